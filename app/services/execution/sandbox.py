"""The run sandbox (docs/security.md): what a run's process can see of the machine it runs on.

Every run executes under bubblewrap (`bwrap`) with its own PID, IPC and UTS namespaces and a fresh `/proc`, the
system directories read-only, its checkout read-write as its cwd, a private `/tmp` and `HOME`, and nothing of the
data dir (database, mirrors, other runs' checkouts, `secret.key`, `credentials.json`), a local artifact store, the
Redis client key, or the machine's password hashes and SSH host keys. Its environment is the documented base of
environment.py, never the server's or the worker's, and is handed to bwrap through a descriptor: bwrap itself is
found on the server's PATH and starts with a fixed environment, whatever PATH or LD_PRELOAD the run is given.

Pure decisions (`decide`, `bwrap_argv`) with their table tests beside the probe and the argv they feed.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

SandboxSetting = Literal['auto', 'on', 'off']
# What a run sees read-only: the system. /etc holds the resolver, CA certificates and passwd; /opt toolchains.
SYSTEM_PATHS = ('/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32', '/etc', '/opt')
RUN_HOME = '/home/runner'
SANDBOX_HOSTNAME = 'runboard-run'


@dataclass(frozen=True)
class Verdict:
    """How this process executes runs: sandboxed, unsandboxed (with a warning people see), or not at all."""

    sandboxed: bool
    refusal: str | None = None  # set: every run fails at launch with this reason
    warning: str | None = None  # set: runs execute unsandboxed; shown on the dashboard, /api/about, `runboard status`


def sandbox_state(verdict: Verdict) -> str:
    """The word /api/about, the provenance chip and `runboard status` show."""
    return 'sandboxed' if verdict.sandboxed else 'refused' if verdict.refusal else 'unsandboxed'


UNSANDBOXED_WARNING = (
    "runs are not sandboxed: they can read this server's files and processes ({why}). "
    'Install bubblewrap (apt-get install bubblewrap) so each run is isolated; see docs/security.md'
)


def decide(setting: SandboxSetting, *, team_mode: bool, bwrap_problem: str | None) -> Verdict:
    """The sandbox policy. `bwrap_problem` is None when a probe sandbox started, else why it did not."""
    if setting == 'off':
        return Verdict(False, warning=UNSANDBOXED_WARNING.format(why='RUNBOARD_SANDBOX=off'))
    if bwrap_problem is None:
        return Verdict(True)
    if setting == 'on' or team_mode:
        return Verdict(
            False,
            refusal=(
                f'the run sandbox cannot start ({bwrap_problem}); this server refuses to run code unsandboxed '
                'in team mode: install bubblewrap, or set RUNBOARD_SANDBOX=off to accept the risk '
                '(docs/security.md)'
            ),
        )
    return Verdict(False, warning=UNSANDBOXED_WARNING.format(why=bwrap_problem))


# Secrets of the machine a run must not read even where /etc is shown (a server run as root could): the password
# hashes and the SSH host keys. Runboard's own secret files (Redis client keys, a local artifact store) are added
# by the executor (process.confinement_for).
MACHINE_SECRETS = ('/etc/shadow', '/etc/shadow-', '/etc/gshadow', '/etc/gshadow-', '/etc/ssh/ssh_host_*_key')


def _system_binds(paths: tuple[str, ...]) -> list[str]:
    argv: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_symlink():  # merged /usr: /bin -> usr/bin stays a link inside too
            argv += ['--symlink', os.readlink(p), path]
        elif p.is_dir():
            argv += ['--ro-bind', path, path]
    return argv


def _hiding(hidden: list[Path], shown: list[Path]) -> list[str]:
    """Cover each hidden path that a shown one holds (a data dir under /opt, a key file in /etc) or reaches into: a
    directory with an empty tmpfs, a file with /dev/null. Emitted after every shown path is bound, so no later
    bind shows it again."""
    argv: list[str] = []
    for hide in hidden:
        if not any(hide == s or s in hide.parents or hide in s.parents for s in shown):
            continue  # not in the sandbox at all
        if hide.is_dir():
            argv += ['--tmpfs', str(hide)]
        elif hide.exists():
            argv += ['--ro-bind', '/dev/null', str(hide)]
    return argv


def environment_args(env: Mapping[str, str]) -> bytes:
    """The run's environment as bwrap arguments (`--args FD`: NUL-separated, read from a descriptor, so its secrets
    stay out of every process's command line). bwrap itself starts with a fixed environment: a PATH or LD_PRELOAD
    of the run's must not choose what bwrap is or load code into it, outside the sandbox."""
    parts = ['--clearenv']
    for name, value in env.items():
        parts += ['--setenv', name, value]
    return b''.join(part.encode() + b'\0' for part in parts)


def bwrap_argv(
    command: list[str],
    *,
    bwrap: str,
    workdir: Path,
    network: str,
    hidden: list[Path],
    read_only: list[Path],
    shown: list[Path] | None = None,
    system_paths: tuple[str, ...] = SYSTEM_PATHS,
    writable: list[Path] | None = None,
    args_fd: int | None = None,
) -> list[str]:
    """The bwrap command line around `command`. `shown`: operator-chosen paths bound read-only beside the system
    (toolchains); `hidden`: paths that must not be seen even when they lie under a system or shown path (the data
    dir, secret files); `read_only`: the run's own read-only paths, bound after the hiding (its git objects);
    `writable`: extra paths bound read-write (its artifacts directory); `args_fd`: a descriptor holding more
    arguments (the environment, `environment_args`). No `--new-session`: the engine signals the run's process group."""
    argv = [bwrap]
    if args_fd is not None:
        argv += ['--args', str(args_fd)]
    argv += [
        '--die-with-parent',  # the outer bwrap gone (SIGKILL of the group) ends the namespace and all in it
        '--unshare-pid',
        '--unshare-ipc',
        '--unshare-uts',
        '--hostname',
        SANDBOX_HOSTNAME,
        '--cap-drop',
        'ALL',
    ]
    if network == 'none':
        argv.append('--unshare-net')  # a private loopback only
    argv += _system_binds(system_paths)
    argv += ['--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--tmpfs', RUN_HOME]
    for path in shown or []:
        argv += ['--ro-bind', str(path), str(path)]
    argv += _hiding(hidden, [*map(Path, system_paths), *(shown or [])])
    for path in read_only:
        argv += ['--ro-bind', str(path), str(path)]
    for path in writable or []:
        argv += ['--bind', str(path), str(path)]
    argv += ['--bind', str(workdir), str(workdir), '--chdir', str(workdir), '--', *command]
    return argv


def machine_secrets() -> list[Path]:
    return [Path(found) for pattern in MACHINE_SECRETS for found in glob.glob(pattern)]


@functools.cache
def bwrap_problem(bwrap: str | None = None) -> str | None:
    """None when a probe sandbox with the run's namespaces starts here (cached per process), else why not."""
    path = bwrap or shutil.which('bwrap')
    if not path:
        return 'bwrap is not installed'
    probe = bwrap_argv(['true'], bwrap=path, workdir=Path('/tmp'), network='default', hidden=[], read_only=[])
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=10, env={'PATH': '/usr/bin:/bin'})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f'bwrap did not start: {exc}'
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f'exit {done.returncode}'])[-1]
        return f'bwrap cannot create namespaces here: {last[:200]}'
    return None


def shared_objects(workdir: Path) -> list[Path]:
    """The mirror object stores a checkout borrows from (its `alternates`): read-only inside, so git works."""
    alternates = workdir / '.git' / 'objects' / 'info' / 'alternates'
    try:
        lines = alternates.read_text().splitlines()
    except OSError:
        return []
    return [Path(line) for line in lines if line.strip() and not line.startswith('#') and Path(line).is_dir()]
