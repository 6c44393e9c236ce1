"""The run sandbox's pure decisions: when runs execute sandboxed, unsandboxed with a warning, or not at all;
and what the bwrap command line shows and hides."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Settings
from app.container import build_services
from app.services.execution.environment import run_environment
from app.services.execution.process import secret_paths
from app.services.execution.sandbox import bwrap_argv, decide, environment_args

MISSING = 'bwrap is not installed'


@pytest.mark.parametrize(
    ('setting', 'team_mode', 'problem', 'sandboxed', 'refused', 'warned'),
    [
        # bwrap works: every mode but an explicit off is sandboxed
        ('auto', False, None, True, False, False),
        ('auto', True, None, True, False, False),
        ('on', True, None, True, False, False),
        # bwrap cannot run: local mode runs unsandboxed, loudly; team mode and `on` refuse
        ('auto', False, MISSING, False, False, True),
        ('auto', True, MISSING, False, True, False),
        ('on', False, MISSING, False, True, False),
        # the operator said off: unsandboxed with the warning, whether bwrap works or not
        ('off', True, None, False, False, True),
        ('off', False, MISSING, False, False, True),
    ],
)
def test_decide(setting, team_mode, problem, sandboxed, refused, warned) -> None:  # noqa: ANN001
    verdict = decide(setting, team_mode=team_mode, bwrap_problem=problem)
    assert verdict.sandboxed is sandboxed
    assert bool(verdict.refusal) is refused
    assert bool(verdict.warning) is warned
    if refused:
        assert 'RUNBOARD_SANDBOX=off' in verdict.refusal and problem in verdict.refusal


def _pairs(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_bwrap_argv_namespaces_binds_and_command(tmp_path: Path) -> None:
    system = tmp_path / 'usr'
    system.mkdir()
    work = Path('/srv/data/worktrees/run_1')
    argv = bwrap_argv(
        ['sh', 'run.sh'],
        bwrap='bwrap',
        workdir=work,
        network='default',
        hidden=[],
        read_only=[Path('/srv/data/mirrors/m.git/objects')],
        system_paths=(str(system), str(tmp_path / 'absent')),
    )
    for flag in ('--unshare-pid', '--unshare-ipc', '--unshare-uts', '--die-with-parent'):
        assert flag in argv
    assert '--unshare-net' not in argv
    assert '--new-session' not in argv  # the engine signals the run's process group
    assert _pairs(argv, '--ro-bind') == [str(system), '/srv/data/mirrors/m.git/objects']  # absent paths skipped
    assert _pairs(argv, '--bind') == [str(work)] and _pairs(argv, '--chdir') == [str(work)]
    assert '/tmp' in _pairs(argv, '--tmpfs') and _pairs(argv, '--proc') == ['/proc']
    assert argv[-3:] == ['--', 'sh', 'run.sh']


def test_no_network_and_a_hidden_data_dir_under_a_system_path(tmp_path: Path) -> None:
    system = tmp_path / 'opt'
    (system / 'runboard').mkdir(parents=True)
    link = tmp_path / 'bin'
    link.symlink_to('usr/bin')
    argv = bwrap_argv(
        ['true'],
        bwrap='bwrap',
        workdir=system / 'runboard' / 'worktrees' / 'r',
        network='none',
        hidden=[system / 'runboard', Path('/elsewhere/data')],
        read_only=[],
        system_paths=(str(system), str(link)),
    )
    assert '--unshare-net' in argv
    assert _pairs(argv, '--symlink') == ['usr/bin']  # merged /usr: a link stays a link
    tmpfs = _pairs(argv, '--tmpfs')
    assert str(system / 'runboard') in tmpfs and '/elsewhere/data' not in tmpfs
    # the hidden data dir is covered before the run's own checkout is bound inside it
    assert argv.index(str(system / 'runboard')) < argv.index('--bind')


def test_a_shown_path_holding_the_data_dir_shows_none_of_it(tmp_path: Path) -> None:
    """An operator's read-only path (a toolchain under ~/.local, say) that holds the data dir: the data dir is
    covered after it is bound, then the run's own paths inside it are bound again."""
    home = tmp_path / 'home'
    data = home / '.local' / 'share' / 'runboard'
    objects = data / 'mirrors' / 'm.git' / 'objects'
    objects.mkdir(parents=True)
    key = tmp_path / 'etc' / 'redis-client.key'
    key.parent.mkdir()
    key.write_text('secret')
    argv = bwrap_argv(
        ['true'],
        bwrap='/usr/bin/bwrap',
        workdir=data / 'worktrees' / 'r',
        network='default',
        hidden=[data, key, tmp_path / 'elsewhere'],
        shown=[home / '.local'],
        read_only=[objects],
        system_paths=(str(key.parent),),
    )
    shown_at, hidden_at = argv.index(str(home / '.local')), argv.index(str(data))
    assert argv[hidden_at - 1] == '--tmpfs' and shown_at < hidden_at
    assert hidden_at < argv.index(str(objects)) < argv.index(str(data / 'worktrees' / 'r'))  # bound again after
    assert argv[argv.index(str(key)) - 2 : argv.index(str(key))] == ['--ro-bind', '/dev/null']  # a file: /dev/null
    assert str(tmp_path / 'elsewhere') not in argv  # not in the sandbox at all: nothing to cover


def test_the_environment_goes_through_a_descriptor_never_the_command_line() -> None:
    argv = bwrap_argv(
        ['sh', 'run.sh'],
        bwrap='/usr/bin/bwrap',
        workdir=Path('/w'),
        network='default',
        hidden=[],
        read_only=[],
        args_fd=7,
    )
    assert argv[:3] == ['/usr/bin/bwrap', '--args', '7'] and '--setenv' not in argv
    assert environment_args({'A': '1', 'PATH': '.:/bin'}) == b'--clearenv\0--setenv\0A\0001\0--setenv\0PATH\0.:/bin\0'


@pytest.mark.parametrize(
    ('fields', 'expected'),
    [
        ({}, ()),
        ({'artifact_store': 's3://bucket/runs'}, ()),  # not on this machine
        ({'artifact_store': '/srv/artifacts'}, ('/srv/artifacts',)),
        ({'artifact_store': 'file:///srv/artifacts'}, ('/srv/artifacts',)),
        (
            {'redis_url': 'rediss://r:6380', 'redis_key_file': '/etc/rb/c.key', 'redis_cert_file': '/etc/rb/c.pem'},
            ('/etc/rb/c.key', '/etc/rb/c.pem'),
        ),
    ],
)
def test_secret_paths(fields, expected, tmp_path: Path) -> None:  # noqa: ANN001
    settings = Settings(data_dir=tmp_path, **fields)
    assert tuple(map(str, secret_paths(settings))) == expected


RUN = {
    'id': 'run_1',
    'project_id': 'p',
    'branch_name': 'main',
    'depth_level': 'deep',
    'target_framework': 'go',
    'kind': 'auto',
    'issue_number': 7,
    'issue_title': 'Fix it',
    'issue_body': 'body',
    'commit_sha': 'abc',
}


@pytest.mark.parametrize(
    ('variables', 'name', 'expected'),
    [
        ({}, 'PATH', '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'),
        ({}, 'HOME', '/home/runner'),
        ({}, 'CI', 'true'),
        ({'PATH': '/opt/go/bin:/usr/bin'}, 'PATH', '/opt/go/bin:/usr/bin'),  # a project variable replaces a base name
        ({'RUNBOARD_BRANCH': 'evil'}, 'RUNBOARD_BRANCH', 'main'),  # nothing replaces the run's facts
        ({}, 'RUNBOARD_ISSUE_NUMBER', '7'),
        ({}, 'RUNBOARD_WORKSPACE', '/w'),
        ({'API_KEY': 'k3y!'}, 'API_KEY', 'k3y!'),
    ],
)
def test_run_environment(variables, name, expected) -> None:  # noqa: ANN001
    assert run_environment(RUN, home='/home/runner', workdir='/w', variables=variables)[name] == expected


def test_run_environment_holds_nothing_of_the_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'from-the-server')
    env = run_environment(RUN, home='/h', workdir='/w')
    assert 'AWS_SECRET_ACCESS_KEY' not in env
    assert set(env) == {
        *('PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'TERM', 'TMPDIR', 'CI', 'RUNBOARD', 'PYTHONUNBUFFERED'),
        *('RUNBOARD_RUN_ID', 'RUNBOARD_PROJECT_ID', 'RUNBOARD_BRANCH', 'RUNBOARD_DEPTH_LEVEL'),
        *('RUNBOARD_TARGET_FRAMEWORK', 'RUNBOARD_RUN_KIND', 'RUNBOARD_WORKSPACE', 'RUNBOARD_COMMIT'),
        *('RUNBOARD_ISSUE_NUMBER', 'RUNBOARD_ISSUE_TITLE', 'RUNBOARD_ISSUE_BODY'),
    }


def test_the_data_dir_and_the_sqlite_file_are_their_owners_alone(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / 'fresh' / 'data', demo=False)
    build_services(settings).engine.dispose()
    assert settings.data_dir.stat().st_mode & 0o777 == 0o700
    assert settings.sqlite_path.stat().st_mode & 0o777 == 0o600


def test_a_data_dir_made_by_someone_else_first_is_set_0700(tmp_path: Path) -> None:
    """A team server's data dir was left 0755 when something made it before the services did (the sign-in storage,
    an administrator's mkdir): every team's mirrors and checkouts were readable by any user of the machine."""
    settings = Settings(data_dir=tmp_path / 'data', demo=False, ui_sign_in=True)
    settings.data_dir.mkdir(mode=0o755)
    settings.data_dir.chmod(0o755)
    build_services(settings).engine.dispose()
    assert settings.data_dir.stat().st_mode & 0o777 == 0o700
