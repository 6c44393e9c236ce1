"""Where a project's forge requests go (server-side request forgery): which URL is checked when a project is saved
(`forge.api_url_of`, as a table), and that a forge's redirect is checked like the first request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.services.notifications.webhook_policy import parse_policy
from app.services.notifications.webhook_targets import TargetGuard
from app.services.repositories import forge


@pytest.mark.parametrize(
    ('repository', 'source', 'checked'),
    [
        # the api_url the operator gave, whatever the kind (GitLab's commit statuses take it too)
        (
            'https://git.example/o/r.git',
            {'kind': 'gitea', 'api_url': 'http://10.0.0.5/api/v1'},
            'http://10.0.0.5/api/v1',
        ),
        ('/srv/repo', {'kind': 'gitlab', 'api_url': 'http://127.0.0.1/api/v4'}, 'http://127.0.0.1/api/v4'),
        # none given: the forge's usual API root on the repository's host, where the token would go
        ('https://git.example/o/r.git', {'kind': 'gitea'}, 'https://git.example/api/v1'),
        ('http://10.0.0.5/o/r.git', {'kind': 'forgejo'}, 'http://10.0.0.5/api/v1'),
        ('https://github.com/o/r.git', {'kind': 'github'}, 'https://api.github.com'),
        # no forge to call
        ('https://git.example/o/r.git', None, None),
        ('https://git.example/o/r.git', {'kind': 'local'}, None),
        ('/srv/repo', {'kind': 'gitea'}, None),  # cannot tell which forge: nothing is asked (a 502 says so later)
    ],
)
def test_the_url_checked_when_a_project_is_saved(repository: str, source: dict | None, checked: str | None) -> None:
    assert forge.api_url_of(repository, source) == checked


@contextmanager
def redirecting_forge(location: str) -> Iterator[tuple[str, list[str]]]:
    """A forge on 127.0.0.1 that answers every GET with a redirect to `location`; yields its API root and the paths
    it was asked for."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            asked.append(self.path)
            self.send_response(302)
            self.send_header('Location', location)
            self.send_header('Content-Length', '0')
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}/api/v1', asked
    finally:
        server.shutdown()
        server.server_close()


def test_a_forges_redirect_to_a_refused_address_is_not_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forge, 'guard', TargetGuard(parse_policy('loopback', team_mode=True)))
    with redirecting_forge('http://169.254.169.254/latest/meta-data/') as (root, asked):
        config = forge.config_for('', {'kind': 'gitea', 'api_url': root, 'owner': 'o', 'repo': 'r', 'token': 'tok'})
        with forge.ForgeClient(config) as client, pytest.raises(forge.ForgeUnavailable) as caught:
            client.ready_issues()
    assert '169.254.169.254 is a link-local address' in caught.value.detail
    assert len(asked) == 1  # the forge itself was asked; the address it pointed at never was


def test_no_forge_request_is_sent_before_a_policy_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forge, 'guard', None)
    config = forge.config_for('', {'kind': 'gitea', 'api_url': 'http://127.0.0.1:9/api/v1', 'owner': 'o', 'repo': 'r'})
    with pytest.raises(forge.ForgeUnavailable, match='no policy for where forge requests may go'):
        forge.ForgeClient(config)
