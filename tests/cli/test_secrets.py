"""`runboard secrets` and `runboard variables`: a secret's value comes from stdin, never argv, and is never
printed back; a run receives both."""

from __future__ import annotations

import re

from tests.helpers.cli import run_cli, served
from tests.helpers.runs import create_project, outputs, shell_script, trigger, wait_for_status
from tests.helpers.servers import api_server


def test_secrets_and_variables_from_the_cli_reach_a_run(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('echo "region=$REGION token=$DEPLOY_TOKEN"')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)

        def cli(*args: str, stdin: str | None = None):  # noqa: ANN202
            return run_cli(server.base_url, server.token, *args, stdin=stdin)

        refused = cli('secrets', 'set', 'DEPLOY_TOKEN', 'on-the-command-line', '-p', 'proj')
        assert refused.code != 0 and 'stdin' in (refused.stdout + refused.stderr)
        assert cli('secrets', 'set', 'DEPLOY_TOKEN', '-p', 'proj', stdin='tok-123456\n').code == 0
        assert cli('variables', 'set', 'REGION', 'eu-west-1', '-p', 'proj').code == 0
        listed = cli('secrets', 'list', '-p', 'proj')
        assert 'DEPLOY_TOKEN' in listed.stdout and 'tok-123456' not in listed.stdout
        assert 'eu-west-1' in cli('variables', 'list', 'proj').stdout
        short = cli('secrets', 'set', 'PIN', '-p', 'proj', stdin='12\n')
        assert short.code != 0 and 'at least 4 characters' in (short.stdout + short.stderr)

        done = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        assert outputs(done) == ['region=eu-west-1 token=***']

        assert cli('secrets', 'remove', 'DEPLOY_TOKEN', '-p', 'proj').code == 0
        assert 'No secrets.' in cli('secrets', 'list', '-p', 'proj').stdout


def test_each_groups_set_help_shows_its_own_way_and_the_example_works(settings_factory, repo_factory, tmp_path) -> None:  # noqa: ANN001
    """`variables set --help` once told how to set a secret (from stdin) and not how to give a variable's value; each
    group's example, pasted with the project's id for PROJECT (and the secret's file made), sets it."""
    with served(settings_factory, repo_factory) as (server, cli):
        examples = {}
        for kind in ('secrets', 'variables'):
            shown = ' '.join(cli(kind, 'set', '--help').stdout.split())
            examples[kind] = re.search(r'`(runboard [^`]+)`', shown).group(1)
        assert examples['variables'] == 'runboard variables set REGION eu-west-1 -p PROJECT'
        assert 'secret' not in ' '.join(cli('variables', 'set', '--help').stdout.split()).split('Arguments')[0]
        assert examples['secrets'] == 'runboard secrets set DEPLOY_TOKEN -p PROJECT < token.txt'

        words = examples['variables'].replace('PROJECT', 'proj').split()[1:]
        assert cli(*words).code == 0
        command, _, file = examples['secrets'].replace('PROJECT', 'proj').partition(' < ')
        (tmp_path / file).write_text('tok-123456\n')
        pasted = run_cli(server.base_url, server.token, *command.split()[1:], stdin=(tmp_path / file).read_text())
        assert pasted.code == 0, pasted.stderr
        assert [v['value'] for v in cli('variables', 'list', 'proj', '--json').json()] == ['eu-west-1']
        assert [s['name'] for s in cli('secrets', 'list', 'proj', '--json').json()] == ['DEPLOY_TOKEN']
