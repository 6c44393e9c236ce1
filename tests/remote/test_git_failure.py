from __future__ import annotations

import pytest

from app.services.repositories.git_failure import MAX_DETAIL_CHARS, describe_failure, hint_for

ACCESS = 'the remote refused access; set or check the project credentials'


@pytest.mark.parametrize(
    ('output', 'hint'),
    [
        ("fatal: could not read Username for 'https://github.com': terminal prompts disabled", ACCESS),
        ("fatal: Authentication failed for 'https://host/app.git/'", ACCESS),
        ('fatal: unable to access ...: The requested URL returned error: 403', ACCESS),
        ('remote: HTTP Basic: Access denied', ACCESS),
        (
            'git@github.com: Permission denied (publickey).',
            'the remote refused the ssh key; check the project deploy key',
        ),
        (
            '@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@',
            "the remote's ssh host key is unknown or has changed; check the server's known_hosts",
        ),
        (
            'Host key verification failed.',
            "the remote's ssh host key is unknown or has changed; check the server's known_hosts",
        ),
        ('fatal: unable to access ...: Could not resolve host: nope.invalid', 'the host name does not resolve'),
        (
            'fatal: unable to connect to 127.0.0.1:\n127.0.0.1[0: 127.0.0.1]: errno=Connection refused',
            'the remote does not answer',
        ),
        ('fatal: unable to access ...: Failed to connect to 127.0.0.1 port 1', 'the remote does not answer'),
        ('remote: Repository not found.', 'the repository was not found (or the credentials cannot see it)'),
        (
            "fatal: '/x' does not appear to be a git repository",
            'the repository was not found (or the credentials cannot see it)',
        ),
        ("fatal: transport 'file' not allowed", 'this server does not allow that protocol'),
        ('fatal: early EOF', None),
        ('', None),
    ],
)
def test_hint_for(output: str, hint: str | None) -> None:
    assert hint_for(output) == hint


@pytest.mark.parametrize(
    ('output', 'returncode', 'expected'),
    [
        ('fatal: early EOF\n', 128, 'git fetch of X failed: fatal: early EOF'),
        ('', 1, 'git fetch of X failed: exit status 1'),
        ('hint: try this\nfatal: a\n\nfatal: b\n', 128, 'git fetch of X failed: fatal: a fatal: b'),
        ('remote: Repository not found.', 128, 'git fetch of X failed: the repository was not found (or the '
         'credentials cannot see it) (remote: Repository not found.)'),
    ],
)  # fmt: skip
def test_describe_failure(output: str, returncode: int, expected: str) -> None:
    assert describe_failure('git fetch of X', output, returncode) == expected


def test_long_output_is_cut() -> None:
    message = describe_failure('git clone', 'x' * 5000, 128)
    assert len(message) < MAX_DETAIL_CHARS + 50 and message.endswith('…')
