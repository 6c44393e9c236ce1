"""Where the CLI connects: --server before the command or after it, RUNBOARD_SERVER, and what a refused
token (401) says about where the CLI looked for credentials."""

from __future__ import annotations

from tests.helpers.cli import run_cli, served

NOBODY = 'http://127.0.0.1:9'  # nothing listens on the discard port


def test_server_before_the_command_as_after_it(settings_factory, repo_factory) -> None:
    with served(settings_factory, repo_factory) as (server, _cli):
        # RUNBOARD_SERVER points nowhere: the option given before the command wins over it
        before = run_cli(NOBODY, server.token, '--server', server.base_url, 'projects', 'list', '--json')
        assert before.code == 0, before.stderr
        assert [p['id'] for p in before.json()] == ['proj']
        after = run_cli(NOBODY, server.token, 'projects', 'list', '--json', '--server', server.base_url)
        assert after.code == 0 and [p['id'] for p in after.json()] == ['proj']
        # two levels down, too; and the one after the command wins over the one before it
        nested = run_cli(NOBODY, server.token, '--server', server.base_url, 'runs', 'list', '--json')
        assert nested.code == 0 and nested.json()['items'] == []
        both = run_cli(server.base_url, server.token, '--server', server.base_url, 'quota', '--server', NOBODY)
        assert both.code == 5 and NOBODY in both.stderr
        # without either option, RUNBOARD_SERVER
        assert run_cli(NOBODY, server.token, 'projects', 'list').code == 5


def test_a_refused_token_says_where_the_cli_looked(settings_factory, repo_factory, tmp_path, monkeypatch) -> None:
    elsewhere = tmp_path / 'not-the-servers-data-dir'
    monkeypatch.setenv('RUNBOARD_DATA_DIR', str(elsewhere))
    with served(settings_factory, repo_factory) as (server, _cli):
        missing = run_cli(server.base_url, None, 'projects', 'list')  # no RUNBOARD_TOKEN: the data dir's file
        assert missing.code == 4, missing.stderr
        said = ' '.join(missing.stderr.split())
        assert str(elsewhere / 'credentials.json') in said, said
        assert 'RUNBOARD_DATA_DIR' in said and '--data-dir' in said and 'RUNBOARD_TOKEN' in said
        # no file there (a team server's machine: it makes no local account): how a team's token comes about
        assert 'no local-mode token' in said and 'runboard users add NAME --team TEAM --role operator --admin' in said
        wrong = run_cli(server.base_url, 'rb_not_a_token', 'projects', 'list')
        assert wrong.code == 4 and 'The token in RUNBOARD_TOKEN was refused' in ' '.join(wrong.stderr.split())
        # a credentials.json the server refuses (another server's, or revoked): both causes named, and what mends each
        elsewhere.mkdir()
        (elsewhere / 'credentials.json').write_text('{"token": "rb_revoked_or_another_servers"}')
        refused = ' '.join(run_cli(server.base_url, None, 'projects', 'list').stderr.split())
        assert 'the server refused it' in refused and 'revoked' in refused and 'RUNBOARD_DATA_DIR=DIR' in refused
