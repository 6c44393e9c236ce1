"""`runboard projects add --repository URL --token-env VAR`: the token comes from the environment, never argv,
and no answer the CLI prints shows it."""

from __future__ import annotations

import pytest

from tests.helpers.cli import served
from tests.helpers.remote import TOKEN, USER, Remote


def test_projects_add_on_a_remote_with_a_token_from_the_environment(
    settings_factory, repo_factory, http_remote: Remote, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    monkeypatch.setenv('APP_TOKEN', TOKEN)
    with served(settings_factory, repo_factory) as (_server, cli):
        argv = ('projects', 'add', '--id', 'app', '--repository', http_remote.url, '--command', 'git rev-parse HEAD')
        refused = cli(*argv)
        assert refused.code != 0 and 'credentials' in refused.stderr  # no token: the remote refuses access
        added = cli(*argv, '--token-env', 'APP_TOKEN', '--username', USER, '--json')
        assert added.code == 0, added.stderr
        assert added.json()['has_credentials'] and added.json()['credentials_kind'] == 'token'
        shown = cli('projects', 'show', 'app')
        assert 'token' in shown.stdout
        refreshed = cli('projects', 'refresh', 'app')
        assert refreshed.code == 0 and 'Last good fetch' in refreshed.stdout
        empty = cli('projects', 'edit', 'app', '--token-env', 'NOT_SET_ANYWHERE')
        assert empty.code != 0 and 'NOT_SET_ANYWHERE' in empty.stderr
        for result in (refused, added, shown, refreshed, empty):
            assert TOKEN not in result.stdout + result.stderr
        assert all(TOKEN not in arg for arg in argv)
