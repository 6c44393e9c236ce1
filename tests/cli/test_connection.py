"""Where the CLI connects: --server before the command or after it, RUNBOARD_SERVER, and what a refused
token (401) says about where the CLI looked for credentials."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import typer

from app import local_sign_in
from app.cli.context import server_url
from app.cli.policy import Exit
from tests.helpers.cli import run_cli, served
from tests.helpers.servers import free_port

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


@pytest.mark.parametrize(
    ('given', 'url'),
    [
        (None, 'http://127.0.0.1:8080'),  # neither --server nor RUNBOARD_SERVER: the default
        ('http://127.0.0.1:8701', 'http://127.0.0.1:8701'),
        ('https://runboard.example.com/', 'https://runboard.example.com'),  # a trailing slash is dropped
        (' HTTP://host:1 ', 'HTTP://host:1'),
    ],
)
def test_a_server_address_with_its_scheme_is_used(given: str | None, url: str) -> None:
    assert server_url(given) == url


@pytest.mark.parametrize(
    ('given', 'says'),
    [
        ('localhost:8080', 'e.g. http://localhost:8080'),  # the slip: a host and port without the scheme
        ('127.0.0.1:8701/', 'e.g. http://127.0.0.1:8701'),
        ('runboard.example.com', 'e.g. http://runboard.example.com'),
        ('ftp://host', 'e.g. http://host'),
        ('http://', 'e.g. http://HOST:PORT'),
    ],
)
def test_a_server_address_without_http_or_https_is_a_usage_error(given: str, says: str) -> None:
    with pytest.raises(typer.BadParameter, match='give it with http:// or https://') as refused:
        server_url(given)
    assert says in str(refused.value) and refused.value.param_hint == '--server / RUNBOARD_SERVER'


def test_a_server_without_its_scheme_is_exit_2_not_unreachable(settings_factory, repo_factory) -> None:
    """`--server 127.0.0.1:PORT` (or RUNBOARD_SERVER so) while that server is up: exit 2 naming the address to give,
    not exit 5 "could not reach the server"."""
    with served(settings_factory, repo_factory) as (server, _cli):
        bare = server.base_url.removeprefix('http://')
        for args, env_server in ((('--server', bare, 'projects', 'list'), server.base_url), (('quota',), bare)):
            slipped = run_cli(env_server, server.token, *args, '--json')
            assert slipped.code == 2, slipped.stderr
            said = ' '.join(slipped.stderr.replace('│', ' ').split())
            assert f'e.g. {server.base_url}' in said and 'Could not reach' not in said and slipped.stdout == ''
        assert run_cli(bare, server.token, 'quota', '--server', server.base_url + '/').code == 0


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


@contextmanager
def redirecting_to(target: str) -> Iterator[str]:
    """An http:// address whose every answer is a 301 to the same path at `target`, as a proxy that sends plain
    HTTP to its https:// address does; yields that address."""

    class Redirect(http.server.BaseHTTPRequestHandler):
        def _moved(self) -> None:
            self.send_response(301)
            self.send_header('Location', target + self.path)
            self.send_header('Content-Length', '0')
            self.end_headers()

        do_GET = do_POST = do_PATCH = do_DELETE = _moved

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', free_port()), Redirect)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}'
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_redirects_is_said_in_words_not_a_traceback() -> None:
    """--server pointing at a proxy's http:// address that redirects to https://: each command once ended in a Python
    traceback (`runs logs --raw` printed nothing and exit 0); it is exit 5 naming where the server redirected."""
    with redirecting_to('https://runboard.example.test') as address:
        for args in (
            ('projects', 'show', 'proj'),
            ('runs', 'list'),
            ('runs', 'logs', 'run_x', '--raw'),
            ('runs', 'trigger', 'proj', '-b', 'main', '-d', 'shallow', '-f', 'python'),
        ):
            moved = run_cli(address, 'rb_token', *args)
            assert moved.code == 5, (args, moved.stderr)
            said = ' '.join(moved.stderr.split())
            assert 'redirected the request (HTTP 301) to https://runboard.example.test/api/' in said, said
            assert 'Traceback' not in said and 'Correlation id: ' in said
        as_json = run_cli(address, 'rb_token', 'projects', 'list', '--json')
        assert as_json.code == 5 and as_json.json()['error'] == 'redirect' and as_json.json()['status'] == 301


def test_open_without_a_running_local_server_is_unreachable_and_says_how_to_start_it(tmp_path) -> None:  # noqa: ANN001
    """`runboard open` once exited 1, which the exit codes keep for a run that failed, when no local server had
    started with the data dir; and printed (and opened) the link of one that had stopped."""
    never = tmp_path / 'never started'
    none = run_cli(NOBODY, None, 'open', '--no-browser', '--data-dir', str(never))
    assert none.code == Exit.UNREACHABLE and none.stdout == ''
    said = ' '.join(none.stderr.split())
    assert f"Start it with `runboard serve --data-dir '{never}'`" in said, said

    stopped = tmp_path / 'stopped'
    stopped.mkdir()
    (stopped / local_sign_in.TOKEN_FILE).write_text('the-token')
    local_sign_in.write_server_file(stopped, NOBODY)  # where it answered, before it stopped
    gone = run_cli(NOBODY, None, 'open', '--no-browser', '--data-dir', str(stopped))
    assert gone.code == Exit.UNREACHABLE and 'the-token' not in gone.stdout + gone.stderr
    said = ' '.join(gone.stderr.split())
    assert f'is not running: nothing answers at {NOBODY}.' in said and f'runboard serve --data-dir {stopped}' in said

    with redirecting_to('https://elsewhere.example.test') as address:  # anything answering HTTP is a server there
        local_sign_in.write_server_file(stopped, address)
        opened = run_cli(NOBODY, None, 'open', '--no-browser', '--data-dir', str(stopped))
    assert opened.code == Exit.OK and opened.stdout.strip() == f'{address}/?token=the-token', opened.stderr
