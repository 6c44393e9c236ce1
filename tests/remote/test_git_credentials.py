from __future__ import annotations

import base64
import stat
import subprocess
from pathlib import Path

import pytest

from app.services.repositories.credentials import Credentials, basic_header_value, git_environment, redact

TOKEN = 'ghp_S3cr3t/Token+value'
ALLOWED = 'file:git:http:https:ssh'


def run(env: dict[str, str], *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), env=env, cwd=cwd, capture_output=True, text=True, check=False)


@pytest.fixture(scope='module')
def ssh_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A real ed25519 private key (text) and its public key."""
    path = tmp_path_factory.mktemp('key') / 'id'
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(path)], check=True)
    return path.read_text(), path.with_suffix('.pub').read_text().split()[1]


def test_every_environment_is_non_interactive_and_drops_inherited_git_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv('GIT_DIR', '/elsewhere')
    monkeypatch.setenv('GIT_ASKPASS', '/usr/bin/false')
    monkeypatch.setenv('SSH_ASKPASS', '/usr/bin/false')
    monkeypatch.setenv('GIT_CONFIG_PARAMETERS', "'core.sshcommand'='touch /tmp/x'")
    with git_environment(None, known_hosts=tmp_path / 'kh', allowed_protocols='https:ssh') as env:
        assert env['GIT_TERMINAL_PROMPT'] == '0'
        assert env['LC_ALL'] == 'C'
        assert env['GIT_ALLOW_PROTOCOL'] == 'https:ssh'
        assert env['GIT_CONFIG_NOSYSTEM'] == '1'
        for name in ('GIT_DIR', 'GIT_ASKPASS', 'SSH_ASKPASS', 'GIT_CONFIG_PARAMETERS', 'GIT_CONFIG_COUNT'):
            assert name not in env
        assert '-i' not in env['GIT_SSH_COMMAND'].split() and 'BatchMode=yes' in env['GIT_SSH_COMMAND']
        assert env['PATH']  # the rest of the environment is kept


def test_git_refuses_a_protocol_outside_the_allowed_list(tmp_path: Path) -> None:
    subprocess.run(['git', 'init', '-q', '--bare', str(tmp_path / 'src.git')], check=True)
    with git_environment(None, known_hosts=tmp_path / 'kh', allowed_protocols='https') as env:
        done = run(env, 'git', 'ls-remote', f'file://{tmp_path}/src.git')
    assert done.returncode != 0 and "transport 'file' not allowed" in done.stderr


def test_token_travels_as_an_extra_header_in_the_environment_only(tmp_path: Path) -> None:
    credentials = Credentials('token', 'alice', TOKEN)
    with git_environment(credentials, known_hosts=tmp_path / 'kh', allowed_protocols=ALLOWED) as env:
        expected = 'Basic ' + base64.b64encode(f'alice:{TOKEN}'.encode()).decode()
        assert env['GIT_CONFIG_COUNT'] == '2'
        assert env['GIT_CONFIG_KEY_0'] == 'http.extraHeader'
        assert env['GIT_CONFIG_VALUE_0'] == f'Authorization: {expected}'
        assert not any(TOKEN in value for value in env.values())
        # git itself reads it: the header, and no credential helper to fall back on
        assert run(env, 'git', 'config', '--get', 'http.extraHeader', cwd=tmp_path).stdout.strip() == (
            f'Authorization: {expected}'
        )
        assert run(env, 'git', 'config', '--get-all', 'credential.helper', cwd=tmp_path).stdout.strip() == ''
    assert list(tmp_path.iterdir()) == []  # nothing written (known_hosts is created by ssh, not by us)


def test_ssh_key_lives_in_a_private_file_while_the_process_runs(tmp_path: Path, ssh_key: tuple[str, str]) -> None:
    private, public = ssh_key
    known_hosts = tmp_path / 'data' / 'known_hosts'
    # CRLF and a missing final newline (a paste from a web form) still make a key OpenSSH reads
    credentials = Credentials('ssh_key', 'git', private.replace('\n', '\r\n').strip())
    with git_environment(credentials, known_hosts=known_hosts, allowed_protocols='ssh') as env:
        command = env['GIT_SSH_COMMAND']
        key_file = Path(command.split()[2].strip("'"))
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
        assert run(env, 'ssh-keygen', '-y', '-f', str(key_file)).stdout.split()[1] == public
        resolved = run(env, 'sh', '-c', f'{command} -G git.example.com').stdout.lower().splitlines()
        assert f'identityfile {key_file}'.lower() in resolved
        assert f'userknownhostsfile {known_hosts}'.lower() in resolved
        for line in ('identitiesonly yes', 'batchmode yes', 'stricthostkeychecking accept-new'):
            assert line in resolved
        assert private.strip().splitlines()[1] not in ''.join(env.values())
    assert not key_file.exists() and not key_file.parent.exists()
    assert known_hosts.parent.is_dir()


def test_ssh_key_file_is_deleted_on_error(tmp_path: Path, ssh_key: tuple[str, str]) -> None:
    credentials = Credentials('ssh_key', 'git', ssh_key[0])
    with pytest.raises(RuntimeError, match='git failed'):
        with git_environment(credentials, known_hosts=tmp_path / 'kh', allowed_protocols='ssh') as env:
            key_file = Path(env['GIT_SSH_COMMAND'].split()[2].strip("'"))
            assert key_file.exists()
            raise RuntimeError('git failed')
    assert not key_file.exists()


def test_ssh_command_quotes_paths_with_spaces(tmp_path: Path, ssh_key: tuple[str, str]) -> None:
    known_hosts = tmp_path / 'Application Support' / 'known hosts'
    with git_environment(
        Credentials('ssh_key', 'git', ssh_key[0]), known_hosts=known_hosts, allowed_protocols='ssh'
    ) as env:
        resolved = run(env, 'sh', '-c', env['GIT_SSH_COMMAND'] + ' -G host.example').stdout.lower().splitlines()
    assert f'userknownhostsfile {known_hosts}'.lower() in resolved


@pytest.mark.parametrize(
    ('credentials', 'text', 'expected'),
    [
        (None, f'fatal: {TOKEN}', f'fatal: {TOKEN}'),
        (Credentials('token', 'alice', TOKEN), f'fatal: bad token {TOKEN}.', 'fatal: bad token ***.'),
        (
            Credentials('token', 'alice', TOKEN),
            'sent Authorization: ' + basic_header_value(Credentials('token', 'alice', TOKEN)),
            'sent Authorization: Basic ***',
        ),
        (
            Credentials('token', 'alice', TOKEN),
            'url https://alice:ghp_S3cr3t%2FToken%2Bvalue@h',
            'url https://alice:***@h',
        ),
        (Credentials('token', 'alice', TOKEN), 'nothing secret here', 'nothing secret here'),
        (Credentials('token', '', 'abc'), 'x abc abc', 'x *** ***'),
        (
            Credentials('ssh_key', 'git', '-----BEGIN KEY-----\nAAAAbase64keymaterial0001\nAAAA02\n-----END KEY-----'),
            'leaked AAAAbase64keymaterial0001 line',
            'leaked *** line',
        ),
    ],
)
def test_redact(credentials: Credentials | None, text: str, expected: str) -> None:
    assert redact(text, credentials) == expected


@pytest.mark.parametrize(
    ('kind', 'username', 'secret', 'message'),
    [
        ('password', 'u', 's', 'unknown credential kind'),
        ('token', 'u', '  ', 'secret is empty'),
        ('token', 'a:b', 's', 'must not contain a colon'),
        ('token', 'a\nb', 's', 'control characters'),
    ],
)
def test_credentials_are_validated(kind: str, username: str, secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Credentials(kind, username, secret)  # type: ignore[arg-type]


def test_credentials_repr_hides_the_secret() -> None:
    assert TOKEN not in repr(Credentials('token', 'alice', TOKEN))


def test_blank_username_uses_git() -> None:
    assert basic_header_value(Credentials('token', '', 't')) == 'Basic ' + base64.b64encode(b'git:t').decode()
