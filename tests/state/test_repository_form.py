"""The Run page's repository form: what it sends (state/repository_form.py), as a table."""

from __future__ import annotations

import pytest

from app.state.repository_form import repository_changes

REPO = 'https://git.example.org/org/app.git'


@pytest.mark.parametrize(
    'repository, choice, username, secret, expected',
    [
        (REPO, 'keep', '', '', 'Nothing changed.'),
        ('  ', 'keep', '', '', 'Enter the repository: an absolute path or a clone URL.'),
        ('https://git.example.org/org/new.git', 'keep', '', '', {'repository': 'https://git.example.org/org/new.git'}),
        (REPO, 'none', '', '', {'credentials': None}),
        (REPO, 'token', '', '  ', 'Enter the token.'),
        (REPO, 'ssh_key', '', '', 'Paste the SSH private key.'),
        (REPO, 'token', '', ' tok ', {'credentials': {'kind': 'token', 'username': 'git', 'secret': 'tok'}}),
        (
            REPO,
            'ssh_key',
            'deploy',
            '-----BEGIN KEY-----\nabc\n-----END KEY-----\n',
            {
                'credentials': {
                    'kind': 'ssh_key',
                    'username': 'deploy',
                    'secret': '-----BEGIN KEY-----\nabc\n-----END KEY-----\n',
                }
            },
        ),
        (
            'git@git.example.org:org/app.git',
            'token',
            'x-access-token',
            'tok',
            {
                'repository': 'git@git.example.org:org/app.git',
                'credentials': {'kind': 'token', 'username': 'x-access-token', 'secret': 'tok'},
            },
        ),
    ],
)
def test_repository_changes(repository: str, choice: str, username: str, secret: str, expected: object) -> None:
    assert (
        repository_changes(
            current_repository=REPO, repository=repository, choice=choice, username=username, secret=secret
        )
        == expected
    )
