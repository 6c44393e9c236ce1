"""The run sandbox (docs/security.md): what a run's process can see of the machine it runs on.

Every run executes under bubblewrap (`bwrap`) with its own PID, IPC and UTS namespaces and a fresh `/proc`, the
system directories read-only, its checkout read-write as its cwd, a private `/tmp` and `HOME`, and nothing of the
data dir (database, mirrors, other runs' checkouts, `secret.key`, `credentials.json`). Its environment is the
documented base of environment.py, never the server's or the worker's.

Pure decisions (`decide`, `bwrap_argv`) with their table tests beside the probe and the argv they feed.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
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


def _system_binds(paths: tuple[str, ...], hidden: list[Path]) -> list[str]:
    argv: list[str] = []
    for path in paths:
        p = Path(path)
        if p.is_symlink():  # merged /usr: /bin -> usr/bin stays a link inside too
            argv += ['--symlink', os.readlink(p), path]
        elif p.is_dir():
            argv += ['--ro-bind', path, path]
    for hide in hidden:  # e.g. a data dir under /opt: covered by an empty tmpfs
        if any(hide == Path(s) or Path(s) in hide.parents for s in paths):
            argv += ['--tmpfs', str(hide)]
    return argv


def bwrap_argv(
    command: list[str],
    *,
    bwrap: str,
    workdir: Path,
    network: str,
    hidden: list[Path],
    read_only: list[Path],
    system_paths: tuple[str, ...] = SYSTEM_PATHS,
    writable: list[Path] | None = None,
) -> list[str]:
    """The bwrap command line around `command`. `hidden`: paths that must not be seen even when they lie
    under a system path (the data dir); `read_only`: extra paths bound read-only after that (the run's git
    objects, operator-chosen toolchains); `writable`: extra paths bound read-write (its artifacts directory).
    No `--new-session`: the engine signals the run's process group."""
    argv = [
        bwrap,
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
    argv += _system_binds(system_paths, hidden)
    argv += ['--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--tmpfs', RUN_HOME]
    for path in read_only:
        argv += ['--ro-bind', str(path), str(path)]
    for path in writable or []:
        argv += ['--bind', str(path), str(path)]
    argv += ['--bind', str(workdir), str(workdir), '--chdir', str(workdir), '--', *command]
    return argv


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
