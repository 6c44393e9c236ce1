"""Protected variables and secrets on every backend (docs/security.md, "Protected variables"; GitLab's): a protected
one reaches only the runs of the project's protected branches (its base branch, or the globs an operator sets); every
other run does without it and its log says which were not given; the protection is kept when a value is replaced
without saying; bad globs are a 422 that changes nothing; the CLI sets and shows both."""

from __future__ import annotations

import httpx

from tests.helpers.api import assert_problem
from tests.helpers.cli import run_cli
from tests.helpers.runs import create_project, outputs, shell_script, statuses, trigger, wait_for_status
from tests.helpers.servers import api_server

PRINTS = shell_script('echo "key=${DEPLOY_KEY:-none} region=${REGION:-none} stage=${STAGE:-none}"')
BRANCHES = {'main': PRINTS, 'feature/x': PRINTS, 'release/1': PRINTS}


def put(client: httpx.Client, kind: str, name: str, body: dict) -> dict:
    reply = client.put(f'/api/projects/proj/{kind}/{name}', json=body)
    assert reply.status_code in (200, 201), reply.text
    return reply.json()


def run_on(client: httpx.Client, branch: str) -> dict:
    run = wait_for_status(client, trigger(client, branch=branch).json()['id'], timeout=60)
    assert run['status'] == 'succeeded', run
    return run


def test_protected_ones_reach_only_the_protected_branches_runs(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo_factory(BRANCHES))
        assert put(client, 'secrets', 'DEPLOY_KEY', {'value': 'dk-123456', 'protected': True})['protected'] is True
        assert put(client, 'variables', 'REGION', {'value': 'eu'})['protected'] is False
        put(client, 'variables', 'STAGE', {'value': 'prod', 'protected': True})

        assert outputs(run_on(client, 'main')) == ['key=*** region=eu stage=prod']  # the base branch is protected
        feature = run_on(client, 'feature/x')
        assert outputs(feature) == ['key=none region=eu stage=none']
        said = 'Protected variables not given to this run (branch feature/x is not protected): DEPLOY_KEY, STAGE'
        assert said in statuses(feature)
        assert not [line for line in statuses(run_on(client, 'main')) if 'Protected' in line]

        reply = client.patch('/api/projects/proj', json={'protected_branches': ['main', 'release/*']})
        assert reply.status_code == 200 and reply.json()['protected_branches'] == ['main', 'release/*']
        assert outputs(run_on(client, 'release/1')) == ['key=*** region=eu stage=prod']
        assert outputs(run_on(client, 'feature/x')) == ['key=none region=eu stage=none']

        put(client, 'secrets', 'DEPLOY_KEY', {'value': 'dk-654321'})  # replaced without saying: still protected
        [secret] = client.get('/api/projects/proj/secrets').json()
        assert secret['protected'] is True
        assert put(client, 'variables', 'STAGE', {'value': 'prod', 'protected': False})['protected'] is False
        assert outputs(run_on(client, 'feature/x')) == ['key=none region=eu stage=prod']

        for bad in ([], ['!main'], ['']):
            assert_problem(client.patch('/api/projects/proj', json={'protected_branches': bad}), 422, 'validation')
        assert client.get('/api/projects/proj').json()['protected_branches'] == ['main', 'release/*']
        assert client.patch('/api/projects/proj', json={'protected_branches': None}).status_code == 200
        assert outputs(run_on(client, 'release/1')) == ['key=none region=eu stage=prod']  # the base branch alone


def test_the_cli_sets_and_shows_protection(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo_factory(BRANCHES))

        def cli(*args: str, stdin: str | None = None):  # noqa: ANN202
            return run_cli(server.base_url, server.token, *args, stdin=stdin)

        made = cli('secrets', 'set', 'DEPLOY_KEY', '-p', 'proj', '--protected', stdin='dk-123456\n')
        assert made.code == 0 and 'Set protected secret DEPLOY_KEY' in made.stdout, made
        listed = cli('secrets', 'list', 'proj')
        assert 'Protected' in listed.stdout and 'yes' in listed.stdout, listed.stdout
        assert cli('projects', 'edit', 'proj', '--protected-branches', 'main,release/*').code == 0
        assert 'main, release/*' in cli('projects', 'show', 'proj').stdout
        assert outputs(run_on(client, 'release/1')) == ['key=*** region=none stage=none']
        assert cli('projects', 'edit', 'proj', '--no-protected-branches').code == 0
        assert 'main (the base branch)' in cli('projects', 'show', 'proj').stdout
        assert cli('secrets', 'set', 'DEPLOY_KEY', '-p', 'proj', '--unprotected', stdin='dk-123456\n').code == 0
        assert outputs(run_on(client, 'release/1')) == ['key=*** region=none stage=none']
