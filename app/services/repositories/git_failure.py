"""Pure: a git failure told as one sentence a project owner can act on, with git's own words after it."""

from __future__ import annotations

MAX_DETAIL_CHARS = 600

# (any of these in git's output, what it means for the project owner); the first match wins
_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("' not allowed",), 'this server does not allow that protocol'),
    (
        (
            'could not read username',
            'could not read password',
            'authentication failed',
            'http basic: access denied',
            'the requested url returned error: 401',
            'the requested url returned error: 403',
        ),
        'the remote refused access; set or check the project credentials',
    ),
    (('permission denied (publickey',), 'the remote refused the ssh key; check the project deploy key'),
    (
        ('remote host identification has changed', 'host key verification failed'),
        "the remote's ssh host key is unknown or has changed; check the server's known_hosts",
    ),
    (('could not resolve host', 'name or service not known'), 'the host name does not resolve'),
    (
        ('connection refused', 'failed to connect', 'unable to connect', 'connection timed out', 'no route to host'),
        'the remote does not answer',
    ),
    (
        ('repository not found', 'does not appear to be a git repository', 'not found', 'no such repository'),
        'the repository was not found (or the credentials cannot see it)',
    ),
)


def _detail(output: str) -> str:
    lines = [line.strip() for line in output.splitlines()]
    kept = [line for line in lines if line and not line.startswith('hint:')]
    text = ' '.join(kept)
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + '…'


def hint_for(output: str) -> str | None:
    lowered = output.lower()
    for needles, hint in _HINTS:
        if any(needle in lowered for needle in needles):
            return hint
    return None


def describe_failure(action: str, output: str, returncode: int) -> str:
    """`action` says what was attempted ("git fetch of https://host/app.git"); `output` is git's stderr."""
    detail = _detail(output) or f'exit status {returncode}'
    hint = hint_for(output)
    return f'{action} failed: {hint} ({detail})' if hint else f'{action} failed: {detail}'


# (any of these in an error message, its machine code); the first match wins
_CODES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("' not allowed", 'this server does not allow'), 'protocol_refused'),
    (('refused access', 'refused the ssh key', 'could not read username', 'authentication failed'), 'auth_failed'),
    (('host key',), 'host_key_unknown'),
    (('timed out', 'did not answer in time'), 'timeout'),
    (('does not resolve', 'does not answer', 'could not resolve host', 'connection refused'), 'unreachable'),
    (('was not found', 'not found', 'does not appear to be a git repository'), 'not_found'),
)


def failure_code(message: str) -> str:
    """Pure: the machine code of a git failure message (as describe_failure words it): auth_failed,
    not_found, unreachable, timeout, host_key_unknown, protocol_refused, or git_failed."""
    lowered = message.lower()
    for needles, code in _CODES:
        if any(needle in lowered for needle in needles):
            return code
    return 'git_failed'
