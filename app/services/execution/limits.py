"""Per-run resource limits (docs/security.md): each run's memory, process count and CPU bounded by a cgroup of its own.

A run's process enters a cgroup made for it, under this server's (or worker's) own cgroup, before it execs
bwrap or the command: a small `sh` writes its pid into the cgroup, then execs what was to run, so nothing the run
starts is ever outside. cgroup v1 (one directory per controller hierarchy: memory, pids, cpu) and v2 (one
directory in the unified hierarchy, where this process's cgroup can enable the controllers for its children).
When the run's main process has exited, every process left in its cgroup is killed (what a double fork or
`setsid` left behind too) and the cgroup removed; what it hit (the kernel's OOM kill, forks refused at the process
limit) is read first, so the run's page says why it ended.

Where this process cannot make cgroups (a desktop session's shared scope, a container's read-only
/sys/fs/cgroup, no delegation from systemd) runs start unbounded; `RUNBOARD_RUN_LIMITS=on` refuses them instead.
/api/about, `runboard status` and (when limits were asked for) the dashboard say which.

Pure decisions (`own_cgroups`, `decide`, `breaches_of`) with their table tests beside the cgroup I/O.
"""

from __future__ import annotations

import atexit
import dataclasses
import fcntl
import functools
import logging
import os
import re
import secrets
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

log = logging.getLogger(__name__)

LimitsSetting = Literal['auto', 'on', 'off']
ProjectLimitSetting = Literal['RUNBOARD_RUN_MEMORY_MAX', 'RUNBOARD_RUN_CPUS']
T = TypeVar('T', int, float)
CGROUP_ROOT = Path('/sys/fs/cgroup')
CPU_PERIOD_US = 100_000
V2 = 'unified'  # the key of the cgroup v2 directory in own_cgroups' answer
# The trampoline that puts the run in its cgroup: each argument up to `--` is a cgroup.procs file. exec keeps the
# pid, so the server stays the parent (bwrap's --die-with-parent) and the process group is the same.
ENTER_SCRIPT = (
    'while [ "$1" != -- ]; do echo $$ > "$1" || { echo "runboard: the run could not enter its cgroup ($1)" >&2; '
    'exit 125; }; shift; done; shift; exec "$@"'
)
# A live instance holds a lock on `<its base's name>.lock` in its user's directory here for as long as it lives: how
# a sweeper of the same user, in any PID namespace that shares the directory, tells a dead instance's cgroups from a
# live one's (a pid alone cannot). Another user's instances are never swept (their locks are not seen).
LOCKS_DIR = Path('/run' if os.access('/run', os.W_OK) else tempfile.gettempdir()) / f'runboard-cgroups-{os.getuid()}'
KILL_ROUNDS = 50
# Made where their v1 hierarchies are mounted though no limit of the executor's needs them: a run's peak memory and
# CPU time are measured there, and a project's own memory or CPU limit for its runs is written there
OPTIONAL_V1 = ('memory', 'cpuacct', 'cpu')
SWEPT_V1 = ('memory', 'pids', 'cpu', 'cpuacct')  # where a dead instance may have left run cgroups


@dataclass(frozen=True)
class RunLimits:
    """What every run of this executor is bounded by; None: not bounded in that."""

    memory_bytes: int | None = None
    processes: int | None = None
    cpus: float | None = None

    @property
    def controllers(self) -> tuple[str, ...]:
        wanted = (('memory', self.memory_bytes), ('pids', self.processes), ('cpu', self.cpus))
        return tuple(name for name, value in wanted if value)

    def describe(self) -> str:
        """Pure: e.g. `memory 2.0 GiB, 4096 processes, 1.5 CPUs`, or `none`."""
        parts = []
        if self.memory_bytes:
            parts.append(f'memory {_gib(self.memory_bytes)}')
        if self.processes:
            parts.append(f'{self.processes} processes')
        if self.cpus:
            parts.append(_cpus(self.cpus))
        return ', '.join(parts) or 'none'


def _cpus(cpus: float) -> str:
    return f'{cpus:g} CPU' + ('' if cpus == 1 else 's')


def _gib(size: int) -> str:
    for unit, scale in (('GiB', 1024**3), ('MiB', 1024**2), ('KiB', 1024)):
        if size >= scale:
            return f'{size / scale:.1f} {unit}'
    return f'{size} bytes'


@dataclass(frozen=True)
class Verdict:
    """How this executor bounds its runs: `enforced` (what each run gets, `none` when nothing was asked), or a
    refusal (every run fails at launch), or a warning (runs start unbounded; shown where the sandbox's is)."""

    limits: RunLimits
    enforced: bool
    refusal: str | None = None
    warning: str | None = None
    why_not: str | None = None  # why nothing is enforced here, for /api/about
    required: bool = False  # RUNBOARD_RUN_LIMITS=on: no run starts unbounded in what it is meant to be bounded by

    def describe(self) -> str:
        if self.enforced:
            return self.limits.describe()
        return 'none' + (f' ({self.why_not})' if self.why_not and self.limits.controllers else '')


def decide(setting: LimitsSetting, limits: RunLimits, *, problem: str | None, asked_beyond_default: bool) -> Verdict:
    """Pure: the limits policy. `problem` is None when run cgroups can be made here, else why not;
    `asked_beyond_default`: the operator set a memory or CPU limit (not only the default process limit)."""
    if setting == 'off':
        return Verdict(RunLimits(), enforced=False)
    if not limits.controllers:  # the executor bounds nothing itself; a project may still bound its runs
        return Verdict(RunLimits(), enforced=False, why_not=problem, required=setting == 'on')
    if problem is None:
        return Verdict(limits, enforced=True, required=setting == 'on')
    what = f'runs cannot be bounded here ({limits.describe()}): {problem}'
    if setting == 'on':
        return Verdict(
            limits,
            enforced=False,
            refusal=f'{what}; RUNBOARD_RUN_LIMITS=on refuses to run them unbounded (docs/security.md)',
            why_not=problem,
            required=True,
        )
    warning = f'{what}; runs start unbounded (docs/security.md)' if asked_beyond_default else None
    return Verdict(limits, enforced=False, warning=warning, why_not=problem)


def project_limit_refusal(
    setting: ProjectLimitSetting, asked: float | None, *, deployment: float | None, allowed: float | None
) -> str | None:
    """Pure: why a project may not bound its runs at `asked` (bytes of memory, or CPUs) here, or None. Up to the
    deployment's ..._ALLOWED setting; without it, up to its default (a project may lower that only); with neither,
    any."""
    cap = allowed or deployment
    if asked is None or cap is None or asked <= cap:
        return None
    shown = _gib(int(cap)) if setting == 'RUNBOARD_RUN_MEMORY_MAX' else _cpus(cap)
    if allowed:
        return f'at most {shown} on this deployment ({setting}_ALLOWED)'
    return (
        f"at most {shown}, the deployment's {setting}: a project may lower it; "
        f'{setting}_ALLOWED lets projects ask for more'
    )


def unheld_limits_refusal(
    verdict: Verdict, *, memory_bytes: int | None, cpus: float | None, held: Collection[str]
) -> str | None:
    """Pure: why a run cannot start where its memory or CPU limit (its project's) cannot be held: no run cgroup
    here, or none in that controller's hierarchy (`held`: the base's controllers). None: it starts without it (its
    page shows no limit it ran under), unless RUNBOARD_RUN_LIMITS=on says otherwise."""
    asked = RunLimits(memory_bytes=memory_bytes, cpus=cpus)
    missing = [c for c in asked.controllers if c not in held]
    if not verdict.required or not missing:
        return None
    why = verdict.why_not or f'its run cgroups get no {" or ".join(missing)} controller here'
    return (
        f"its project's limits ({asked.describe()}) cannot be held here: {why}; RUNBOARD_RUN_LIMITS=on refuses to "
        'run it without them (docs/security.md)'
    )


def in_hierarchies(
    by_controller: dict[str, Path], *, version: int, cpu_limited: bool, real_time_grouped: bool
) -> dict[str, Path]:
    """Pure: where a run's cgroup is made, of its base's hierarchies. On v1 where the kernel groups real-time
    scheduling (`real_time_grouped`: cpu.rt_runtime_us is there), the cpu hierarchy only for a run with a CPU
    limit: a cgroup there gets no real-time budget, so a run would be refused the real-time priority (chrt) it gets
    outside; its CPU time is then measured where cpuacct has a hierarchy of its own (co-mounted with cpu, not at
    all)."""
    if version == 2 or cpu_limited or not real_time_grouped or 'cpu' not in by_controller:
        return by_controller
    return {c: d for c, d in by_controller.items() if d != by_controller['cpu']}


def run_limit(asked: T | None, *, deployment: T | None, allowed: T | None) -> T | None:
    """Pure: the memory or CPU limit a run gets on this executor: its project's (`asked`), never past what this
    executor allows (a worker's own settings may allow less than the server did), else the executor's own."""
    if asked is None:
        return deployment
    cap = allowed or deployment
    return asked if cap is None else min(asked, cap)


def own_cgroups(proc_self_cgroup: str, mountinfo: str) -> dict[str, Path]:
    """Pure: this process's cgroup directory for each v1 controller (`memory`, `pids`, `cpu`, ...) and, under
    `unified`, its v2 directory, from /proc/self/cgroup and /proc/self/mountinfo."""
    mounts_v1: dict[str, tuple[str, Path]] = {}  # controller -> (the mount's root in the hierarchy, mount point)
    mount_v2: tuple[str, Path] | None = None
    for line in mountinfo.splitlines():
        fields = line.split()
        if ' - ' not in line or len(fields) < 5:
            continue
        after = line.split(' - ', 1)[1].split()
        if len(after) < 3:
            continue
        fstype, super_options = after[0], after[2].split(',')
        root, point = _unescaped(fields[3]), Path(_unescaped(fields[4]))
        if fstype == 'cgroup':
            for option in super_options:
                mounts_v1.setdefault(option, (root, point))
        elif fstype == 'cgroup2' and mount_v2 is None:
            mount_v2 = (root, point)
    found: dict[str, Path] = {}
    for line in proc_self_cgroup.splitlines():
        parts = line.split(':', 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == '':
            if mount_v2 is not None and (inside := _inside(path, mount_v2[0])) is not None:
                found[V2] = mount_v2[1] / inside
            continue
        for controller in controllers.split(','):
            if controller in mounts_v1 and (inside := _inside(path, mounts_v1[controller][0])) is not None:
                found[controller] = mounts_v1[controller][1] / inside
    return found


def _unescaped(field: str) -> str:
    """A mountinfo path: the kernel writes a space, tab, newline or backslash in it as an octal escape (`\\040`)."""
    return re.sub(r'\\([0-7]{3})', lambda match: chr(int(match.group(1), 8)), field)


def _inside(path: str, mount_root: str) -> str | None:
    """The cgroup `path` relative to a mount of the hierarchy from `mount_root`; None when outside the mount."""
    if mount_root == '/':
        return path.lstrip('/')
    if path == mount_root or path.startswith(mount_root.rstrip('/') + '/'):
        return path[len(mount_root) :].lstrip('/')
    return None


def breaches_of(limits: RunLimits, *, oom_kills: int, fork_refusals: int) -> list[str]:
    """Pure: what a run's log and error say it hit, from its cgroup's event counters."""
    said = []
    if oom_kills:
        said.append(
            f'the run reached its memory limit ({_gib(limits.memory_bytes or 0)}): the kernel ended '
            + ('a process' if oom_kills == 1 else f'{oom_kills} processes')
            + ' of it (out of memory)'
        )
    if fork_refusals:
        said.append(
            f'the run reached its process limit ({limits.processes}): '
            + ('a new process was' if fork_refusals == 1 else f'{fork_refusals} new processes were')
            + ' refused'
        )
    return said


def _read_counter(path: Path, name: str) -> int:
    """A `name value` line of a cgroup events file (memory.events, pids.events, v1's memory.oom_control)."""
    try:
        for line in path.read_text().splitlines():
            key, _, value = line.partition(' ')
            if key == name:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _write(path: Path, value: str) -> None:
    path.write_text(value)


@dataclass(frozen=True)
class Cgroups:
    """A cgroup as Runboard makes it: its directory for each controller (v1: one per hierarchy; v2: the same one)."""

    version: int
    by_controller: dict[str, Path]
    limits: RunLimits

    @property
    def dirs(self) -> list[Path]:
        return list(dict.fromkeys(self.by_controller.values()))


class RunCgroup(Cgroups):
    """One run's cgroup."""

    @property
    def procs_files(self) -> list[str]:
        return [str(d / 'cgroup.procs') for d in self.dirs]

    def wrap(self, argv: list[str]) -> list[str]:
        return ['/bin/sh', '-c', ENTER_SCRIPT, 'runboard-limits', *self.procs_files, '--', *argv]

    def breaches(self) -> list[str]:
        memory, pids = self.by_controller.get('memory'), self.by_controller.get('pids')
        if self.version == 2:
            oom = _read_counter(memory / 'memory.events', 'oom_kill') if memory else 0
        else:
            oom = _read_counter(memory / 'memory.oom_control', 'oom_kill') if memory else 0
        refused = _read_counter(pids / 'pids.events', 'max') if pids else 0
        return breaches_of(self.limits, oom_kills=oom if self.limits.memory_bytes else 0, fork_refusals=refused)

    def usage(self) -> tuple[int | None, float | None]:
        """Its peak memory (bytes, as counted against the limit: page cache included) and CPU time (seconds) so
        far, where its hierarchies count them."""
        memory, cpu = (
            self.by_controller.get('memory'),
            self.by_controller.get('cpuacct' if self.version == 1 else 'cpu'),
        )
        if self.version == 2:
            cpu = self.dirs[0]  # cpu.stat's usage is in every v2 cgroup
            peak = _read_number(memory / 'memory.peak') if memory else None
            usec = _read_counter(cpu / 'cpu.stat', 'usage_usec') if (cpu / 'cpu.stat').exists() else None
            return peak, None if usec is None else usec / 1e6
        peak = _read_number(memory / 'memory.max_usage_in_bytes') if memory else None
        nsec = _read_number(cpu / 'cpuacct.usage') if cpu else None
        return peak, None if nsec is None else nsec / 1e9

    def end(self) -> Ending:
        """Blocking: what the run hit and used, then every process left in it killed and the cgroup removed."""
        said = self.breaches()
        kill_all(self.dirs)
        peak, cpu_seconds = self.usage()  # after the kill: what the last processes used counts too
        for d in self.dirs:
            _remove(d)
        return Ending(said, peak, cpu_seconds, self.limits.memory_bytes)


@dataclass(frozen=True)
class Ending:
    """What a run's cgroup says at its end: the limits it reached (limits.breaches_of) and what it used."""

    hit: list[str]
    peak_memory_bytes: int | None = None
    cpu_seconds: float | None = None
    memory_max_bytes: int | None = None  # the limit it ran under


def _read_number(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def kill_all(dirs: list[Path]) -> None:
    """SIGKILL every process of these cgroups until none is left (v2's cgroup.kill where there is one)."""
    for d in dirs:
        kill_file = d / 'cgroup.kill'
        if kill_file.exists():
            try:
                _write(kill_file, '1')
            except OSError:
                pass
    for _ in range(KILL_ROUNDS):
        left = False
        for d in dirs:
            try:
                pids = [int(p) for p in (d / 'cgroup.procs').read_text().split()]
            except (OSError, ValueError):
                continue
            for pid in pids:
                left = True
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        if not left:
            return
        time.sleep(0.01)


def _remove(d: Path) -> None:
    for attempt in range(20):  # a killed process leaves its cgroup a moment after it is reaped
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.005 * (attempt + 1))
    log.warning('run cgroup %s could not be removed', d)


class CgroupBase(Cgroups):
    """Where this process makes its runs' cgroups: a directory `runboard-<pid>-<random>` under its own cgroup (in
    each hierarchy a limit or a measure needs, v1; in the unified one, v2)."""

    @functools.cached_property
    def real_time_grouped(self) -> bool:
        """Whether the kernel groups real-time scheduling in its cpu hierarchy (read once per base)."""
        cpu = self.by_controller.get('cpu')
        return cpu is not None and (cpu / 'cpu.rt_runtime_us').exists()

    def make(self, run_id: str, *, memory_bytes: int | None = None, cpus: float | None = None) -> RunCgroup:
        """Blocking: the run's cgroup with its limits written; `memory_bytes`, `cpus`: its own (its project's,
        limits.run_limit), where this base's hierarchies can hold them."""
        limits = self.limits
        if memory_bytes is not None and 'memory' in self.by_controller:
            limits = dataclasses.replace(limits, memory_bytes=memory_bytes)
        if cpus is not None and 'cpu' in self.by_controller:
            limits = dataclasses.replace(limits, cpus=cpus)
        where = in_hierarchies(
            self.by_controller,
            version=self.version,
            cpu_limited=bool(limits.cpus),
            real_time_grouped=self.real_time_grouped,
        )
        made = RunCgroup(self.version, {c: d / run_id for c, d in where.items()}, limits)
        try:
            with _bases_lock:  # release_bases never removes a base between its making and its run's cgroup
                for d in made.dirs:
                    try:
                        d.mkdir(exist_ok=True)
                    except FileNotFoundError:  # its base is gone (released, or removed by hand): made again
                        self._make_base(d.parent)
                        d.mkdir(exist_ok=True)
            _write_limits(made, limits)
        except OSError:
            for d in made.dirs:
                _remove(d)
            raise
        return made

    def _make_base(self, base: Path) -> None:
        base.mkdir(exist_ok=True)
        if self.version == 2:  # its children get the controllers only through it
            _write(base / 'cgroup.subtree_control', ' '.join(f'+{c}' for c in self.by_controller))


def _write_limits(group: RunCgroup, limits: RunLimits) -> None:
    v2 = group.version == 2
    if limits.memory_bytes and (memory := group.by_controller.get('memory')):
        _write(memory / ('memory.max' if v2 else 'memory.limit_in_bytes'), str(limits.memory_bytes))
        # no swap beyond the limit: RAM and swap together are bounded by it
        swap = memory / ('memory.swap.max' if v2 else 'memory.memsw.limit_in_bytes')
        if swap.exists():
            _write(swap, '0' if v2 else str(limits.memory_bytes))
    if limits.processes and (pids := group.by_controller.get('pids')):
        _write(pids / 'pids.max', str(limits.processes))
    if limits.cpus and (cpu := group.by_controller.get('cpu')):
        quota = max(int(limits.cpus * CPU_PERIOD_US), 1000)
        if v2:
            _write(cpu / 'cpu.max', f'{quota} {CPU_PERIOD_US}')
        else:
            _write(cpu / 'cpu.cfs_period_us', str(CPU_PERIOD_US))
            _write(cpu / 'cpu.cfs_quota_us', str(quota))


def find_base(limits: RunLimits, *, read: Callable[[str], str] | None = None) -> tuple[CgroupBase | None, str | None]:
    """Blocking: this process's base for run cgroups, made and checked with a probe cgroup carrying the limits;
    or None and why not."""
    read = read or (lambda path: Path(path).read_text())
    try:
        own = own_cgroups(read('/proc/self/cgroup'), read('/proc/self/mountinfo'))
    except OSError as exc:
        return None, f'cannot read this process cgroups: {exc}'
    needed = limits.controllers
    try:
        name = _instance_name()
        # what a run used is measured where the hierarchies are here too, but never at the limits' expense
        optional = [c for c in OPTIONAL_V1 if c in own and c not in needed]
        if all(c in own for c in needed) and (needed or optional):
            tries = [t for t in dict.fromkeys(((*needed, *optional), needed)) if t]
            for i, controllers in enumerate(tries):
                try:
                    base = CgroupBase(1, {c: own[c] / name for c in controllers}, limits)
                    return _ready(base, [own[c] for c in SWEPT_V1 if c in own]), None
                except OSError:
                    if i == len(tries) - 1 and (needed or V2 not in own):
                        raise  # the executor bounding nothing itself, v2 may still hold a project's limits
        if V2 in own:
            try:
                return _ready(_v2_base(own[V2], needed, name, limits, optional=True), [own[V2]]), None
            except OSError:  # as for v1: never the limits at the optional controllers' expense
                if not needed:
                    raise
                return _ready(_v2_base(own[V2], needed, name, limits, optional=False), [own[V2]]), None
        if not needed:
            return None, 'no cgroup hierarchy with the memory or cpu controller is mounted'
        missing = ', '.join(c for c in needed if c not in own)
        return None, f'no cgroup hierarchy with the {missing} controller is mounted'
    except OSError as exc:
        where = exc.filename or ''
        return None, f'this process cannot make cgroups ({exc.strerror or exc} {where}'.rstrip() + ')'


def _ready(base: CgroupBase, sweep_in: list[Path]) -> CgroupBase:
    """The base made (a dead instance's leftovers beside it swept) and checked with a probe run cgroup; what it made
    is removed again when the check fails."""
    made = []
    try:
        _sweep_gone_instances(sweep_in)
        for d in base.dirs:
            if not d.exists():
                d.mkdir()
                made.append(d)
        probe = base.make(f'probe-{time.monotonic_ns()}')
        for d in probe.dirs:
            _remove(d)
    except OSError:
        for d in made:
            _remove(d)
        raise
    _made_bases.append(base)  # removed when the executor closes or at a clean exit (release_bases); after a kill, by
    # the next start's sweep
    return base


@functools.cache
def _instance_name() -> str:
    """This process's base name, `runboard-<pid>-<random>` (pids repeat across PID namespaces), with its lock taken
    and held (the descriptor stays open) for the process's life."""
    name = f'runboard-{os.getpid()}-{secrets.token_hex(4)}'
    LOCKS_DIR.mkdir(mode=0o700, exist_ok=True)
    held = LOCKS_DIR.lstat()
    if not stat.S_ISDIR(held.st_mode) or held.st_uid != os.getuid() or held.st_mode & 0o022:
        raise OSError(0, 'its lock directory is not its own', str(LOCKS_DIR))  # another user's, or a link
    fd = os.open(LOCKS_DIR / f'{name}.lock', os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return name


def _proven_gone(name: str) -> bool:
    """Whether the instance that made base `name` is dead: its lock file is here and nobody holds it. An instance
    whose lock is not here (another mount namespace's, an earlier version's) is never taken for dead."""
    path = LOCKS_DIR / f'{name}.lock'
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # held: alive
    else:
        path.unlink(missing_ok=True)  # ours to sweep now
        return True
    finally:
        os.close(fd)


def _v2_base(own: Path, needed: tuple[str, ...], name: str, limits: RunLimits, *, optional: bool) -> CgroupBase:
    """v2: the base must enable the controllers for its children, which its parent (this process's cgroup) must
    enable for it first; a cgroup with processes of its own cannot, unless it is the root. A delegated cgroup that
    holds only this process (a systemd unit with `Delegate=yes`) moves the process into a leaf of its own first."""
    available = set((own / 'cgroup.controllers').read_text().split())
    if missing := [c for c in needed if c not in available]:
        raise OSError(0, f'the cgroup v2 controllers {", ".join(missing)} are not delegated here', str(own))
    if optional:  # as OPTIONAL_V1: its peak memory measured (cpu.stat is always there), a project's own limits
        needed = (*needed, *(c for c in ('memory', 'cpu') if c in available and c not in needed))
    if not needed:
        raise OSError(0, 'the cgroup v2 memory and cpu controllers are not delegated here', str(own))
    enable = ' '.join(f'+{c}' for c in needed)
    enabled = set((own / 'cgroup.subtree_control').read_text().split())
    if not set(needed) <= enabled:
        try:
            _write(own / 'cgroup.subtree_control', enable)
        except OSError:
            members = (own / 'cgroup.procs').read_text().split()
            if members != [str(os.getpid())]:
                why = 'this process shares its cgroup with others (run it with Delegate=yes)'
                raise OSError(0, why, str(own)) from None
            leaf = own / f'{name}-self'
            leaf.mkdir(exist_ok=True)
            _write(leaf / 'cgroup.procs', str(os.getpid()))
            _write(own / 'cgroup.subtree_control', enable)
    base = own / name
    base.mkdir(exist_ok=True)
    _write(base / 'cgroup.subtree_control', enable)
    return CgroupBase(2, dict.fromkeys(needed, base), limits)


_made_bases: list[CgroupBase] = []
_bases_lock = threading.Lock()


def release_bases() -> None:
    """The bases this process made removed where no run's cgroup is left in them: an executor closing gracefully
    (uvicorn re-raises SIGTERM after its shutdown, which skips atexit). Made again by the next run that needs one (of
    another executor in this process, say)."""
    with _bases_lock:
        for base in _made_bases:
            _remove_empty(base.dirs)


atexit.register(release_bases)


def _remove_empty(dirs: list[Path]) -> None:
    for d in dirs:
        try:
            d.rmdir()  # only when no run's cgroup is left in it
        except OSError:
            pass


def _sweep_gone_instances(parents: list[Path]) -> None:
    """The run cgroups of servers and workers that died here (_proven_gone, decided once per instance over every
    hierarchy): their processes killed, their cgroups removed, and (v2) the empty leaf it had moved itself into."""
    mine = _instance_name()
    found: dict[str, list[Path]] = {}
    for parent in dict.fromkeys(parents):
        for entry in parent.glob('runboard-*'):
            if entry.is_dir():
                found.setdefault(entry.name.removesuffix('-self'), []).append(entry)
    for name, entries in sorted(found.items()):
        if name == mine or not _proven_gone(name):
            continue
        for entry in entries:
            runs = [d for d in entry.iterdir() if d.is_dir()]
            kill_all(runs)
            for d in [*runs, entry]:
                _remove(d)


@functools.cache
def probe(setting: LimitsSetting, limits: RunLimits, asked_beyond_default: bool) -> tuple[Verdict, CgroupBase | None]:
    """The verdict for this process (cached: one probe per process and limits, as the sandbox's), and where its
    runs' cgroups are made: also where the executor bounds nothing itself, for a project's own limits and what a
    run used."""
    if setting == 'off':
        return decide(setting, limits, problem=None, asked_beyond_default=asked_beyond_default), None
    base, problem = find_base(limits)
    verdict = decide(setting, limits, problem=problem, asked_beyond_default=asked_beyond_default)
    if problem:
        log.info('run limits not enforced: %s', problem)
    return verdict, base if verdict.enforced or not limits.controllers else None
