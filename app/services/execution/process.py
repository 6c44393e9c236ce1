"""One run's process: its sandbox and environment, its own process group, the budget, and the kill (TERM to
the run's processes, grace, KILL of the whole group; in the sandbox the PID namespace ends with it)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, text

from app.config import Settings
from app.infra.db import session_scope
from app.models import utcnow
from app.services.execution import limits, procs, sandbox
from app.services.execution.environment import BASE_PATH, run_environment
from app.services.execution.limits import CgroupBase, RunCgroup, RunLimits
from app.services.execution.live import ClaimedRun, LaunchFailed, LiveRun
from app.services.execution.output_ingest import OutputIngest
from app.services.execution.reaper import KillReason

DRAIN_AFTER_EXIT_SECONDS = 2.0  # after the exit, keep reading while output still arrives this often ...
DRAIN_AFTER_EXIT_MAX_SECONDS = 30.0  # ... but no longer than this (an escaped process may hold the pipe)
EXIT_POLL_SECONDS = 0.1  # how often a main process whose output pipe stays open is looked at for its exit
Kill = Callable[[LiveRun, KillReason], Awaitable[None]]


async def kill_process_group(live: LiveRun, reason: KillReason, *, grace_seconds: float) -> None:
    """SIGTERM the whole process group, then SIGKILL after the grace period. The first reason wins."""
    if live.kill_reason is None:
        live.kill_reason = reason
    process = live.process
    if process is None:  # still checking out: a remote that does not answer must not hold the Stop
        await asyncio.to_thread(live.children.end_all)
        return
    if process.returncode is not None:  # it exited; what it left still holds the output open (unsandboxed)
        procs.kill_group(process.pid, signal.SIGKILL)
        await asyncio.to_thread(procs.kill_run_processes, live.run_id, process.pid)
        return
    if live.sandboxed:  # bwrap would die of TERM at once and take the run's grace with it
        if not procs.signal_group_except(process.pid, signal.SIGTERM, skip_names={'bwrap'}):
            # only bwrap is up (its child has not exec'd the command yet): nobody to give a grace to, and waiting
            # it out would hold the Stop for the whole grace
            procs.kill_group(process.pid, signal.SIGKILL)
    else:
        procs.kill_group(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(process.wait()), timeout=grace_seconds)
    except TimeoutError:
        procs.kill_group(process.pid, signal.SIGKILL)


def record_pid(engine: Engine, run: ClaimedRun, pid: int) -> None:
    with session_scope(engine) as session:
        conn = session.connection()
        conn.execute(text('UPDATE run SET pid = :pid WHERE id = :id'), {'pid': pid, 'id': run['id']})
        if run.get('kind') == 'auto':  # an AFK command started: an earlier launch failure no longer holds
            conn.execute(
                text(
                    'UPDATE project SET launch_error = NULL, launch_error_at = NULL '
                    'WHERE id = :p AND launch_error IS NOT NULL'
                ),
                {'p': run['project_id']},
            )


@dataclass(frozen=True)
class Launch:
    """How to start one run's process: its argv, the environment the started program gets, and the descriptors
    it inherits (the sandbox's: the run's environment, kept out of its command line)."""

    argv: list[str]
    env: dict[str, str]
    pass_fds: tuple[int, ...] = ()


LAUNCHER_PATH = '/usr/bin:/bin'


@dataclass(frozen=True)
class Confinement:
    """How this executor starts run processes (sandbox.decide), and what the sandbox hides or shows."""

    verdict: sandbox.Verdict
    data_dir: Path
    read_only: tuple[Path, ...] = ()
    hidden: tuple[Path, ...] = ()  # besides the data dir: a local artifact store, Redis client keys
    bwrap: str = field(default_factory=lambda: shutil.which('bwrap') or '/usr/bin/bwrap')
    limits: limits.Verdict = field(default_factory=lambda: limits.Verdict(RunLimits(), enforced=False))
    cgroups: CgroupBase | None = None  # where each run's cgroup is made (limits enforced), else None
    memory_allowed: int | None = None  # RUNBOARD_RUN_MEMORY_MAX_ALLOWED: the most a project's runs get here
    cpus_allowed: float | None = None  # RUNBOARD_RUN_CPUS_ALLOWED, likewise

    async def start(
        self,
        command: list[str],
        worktree: Path,
        network: str,
        env: dict[str, str],
        writable: list[Path] | None = None,
        cgroup: RunCgroup | None = None,
    ) -> asyncio.subprocess.Process:
        """The run's process in its checkout, a session of its own (the engine signals its group), its output and
        errors on one pipe (their order kept); in its cgroup from its first instruction when limits hold."""
        with self._launch(command, worktree, network, env, writable) as launch:
            argv = cgroup.wrap(launch.argv) if cgroup else launch.argv
            return await asyncio.create_subprocess_exec(
                *argv,
                cwd=worktree,
                env=launch.env,
                pass_fds=launch.pass_fds,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )

    @contextmanager
    def _launch(
        self,
        command: list[str],
        worktree: Path,
        network: str,
        env: dict[str, str],
        writable: list[Path] | None = None,
    ) -> Iterator[Launch]:
        """Unsandboxed, the command itself with the run's environment. Sandboxed, bwrap by its absolute path with
        a fixed environment (and the run's id, so the run's processes are found by it from the start), the run's
        environment given to the command inside through `--args` on a memfd."""
        if not self.verdict.sandboxed:
            yield Launch(command, env)
            return
        fd = os.memfd_create('runboard-run-env')
        try:
            os.write(fd, sandbox.environment_args(env))
            os.lseek(fd, 0, os.SEEK_SET)
            argv = sandbox.bwrap_argv(
                command,
                bwrap=self.bwrap,
                workdir=worktree,
                network=network,
                hidden=[self.data_dir, *self.hidden, *sandbox.machine_secrets()],
                shown=list(self.read_only),
                read_only=sandbox.shared_objects(worktree),
                writable=writable,
                args_fd=fd,
            )
            launcher = {'PATH': LAUNCHER_PATH, 'LANG': 'C.UTF-8'}
            if run_id := env.get('RUNBOARD_RUN_ID'):
                launcher['RUNBOARD_RUN_ID'] = run_id
            yield Launch(argv, launcher, (fd,))
        finally:
            os.close(fd)

    def cannot_start(self, program: str, worktree: Path, path: str) -> str | None:
        """Why the sandbox's exec would not find `program` (bwrap reports it only as its own exit 1), or None."""
        found = executable(program, worktree, path)
        if found is None:
            return 'not found, or not executable'
        shown = [*sandbox.SYSTEM_PATHS, *map(str, self.read_only), str(worktree)]
        if not any(Path(found).is_relative_to(root) for root in shown):
            return (
                'it lies outside what the run sandbox shows (the system directories and the checkout): use a '
                'program on PATH, or add its directory to RUNBOARD_SANDBOX_READ_ONLY_PATHS'
            )
        return None

    def facts(self) -> dict:
        """How this executor runs code, as /api/about and a worker's registration say it (docs/security.md)."""
        return {
            'sandbox': sandbox.sandbox_state(self.verdict),
            'sandbox_warning': self.verdict.warning or self.verdict.refusal,
            'limits': self.limits.describe(),
            'limits_warning': self.limits.warning or self.limits.refusal,
        }

    def home(self) -> str:
        return sandbox.RUN_HOME if self.verdict.sandboxed else os.environ.get('HOME', '/tmp')


def confinement_for(settings: Settings) -> Confinement:
    problem = None if settings.sandbox == 'off' else sandbox.bwrap_problem()
    verdict = sandbox.decide(settings.sandbox, team_mode=settings.is_team_mode, bwrap_problem=problem)
    extra = tuple(Path(p.strip()) for p in settings.sandbox_read_only_paths.split(',') if p.strip())
    asked = RunLimits(
        memory_bytes=int(settings.run_memory_max) if settings.run_memory_max else None,
        processes=settings.run_processes_max or None,
        cpus=settings.run_cpus,
    )
    bounds, cgroups = limits.probe(
        settings.run_limits, asked, asked_beyond_default=bool(settings.run_memory_max or settings.run_cpus)
    )
    return Confinement(
        verdict,
        data_dir=settings.data_dir.resolve(),
        read_only=extra,
        hidden=secret_paths(settings),
        limits=bounds,
        cgroups=cgroups,
        memory_allowed=int(settings.run_memory_max_allowed) if settings.run_memory_max_allowed else None,
        cpus_allowed=settings.run_cpus_allowed,
    )


def secret_paths(settings: Settings) -> tuple[Path, ...]:
    """Pure: what of this deployment a run must not see besides the data dir: a local artifact store (every team's
    files), the Redis client certificate's key."""
    paths = [settings.redis_key_file, settings.redis_cert_file]
    store = settings.artifact_store
    if store and (store.startswith('file://') or '://' not in store):
        paths.append(store.removeprefix('file://'))
    return tuple(Path(p).resolve() for p in paths if p)


async def run_process(
    live: LiveRun,
    run: ClaimedRun,
    worktree: Path,
    *,
    engine: Engine,
    output: OutputIngest,
    kill: Kill,
    confinement: Confinement,
    variables: dict[str, str],
) -> int | None:
    """Start the command in the worktree, stream its output, enforce the deadline; the exit code (None if
    it never started because a stop came first)."""
    command = run['command']
    if isinstance(command, str):
        command = json.loads(command)
    if live.kill_reason:  # stopped (or the server is closing) while the worktree was being prepared
        return None
    if confinement.verdict.refusal:
        raise LaunchFailed(confinement.verdict.refusal)
    if confinement.limits.refusal:
        raise LaunchFailed(confinement.limits.refusal)
    live.sandboxed = confinement.verdict.sandboxed
    if live.sandboxed:
        if reason := confinement.cannot_start(command[0], worktree, variables.get('PATH', BASE_PATH)):
            raise LaunchFailed(f'could not start {command[0]!r}: {reason}')
    elif confinement.cgroups is not None and not executable(command[0], worktree, variables.get('PATH', BASE_PATH)):
        # started through the cgroup's `sh`, whose exec failing would read as the command's own exit 127
        raise LaunchFailed(f'could not start {command[0]!r}: not found, or not executable')
    env = run_environment(run, home=confinement.home(), workdir=str(worktree), variables=variables)
    network = run.get('network') or 'default'
    cgroup = live.cgroup = await _make_cgroup(confinement, run)
    try:
        try:
            process = await confinement.start(command, worktree, network, env, _writable(run), cgroup)
        except OSError as exc:
            raise LaunchFailed(f'could not start {command[0]!r}: {exc.strerror or exc}') from exc
        live.process = process
        await asyncio.to_thread(record_pid, engine, run, process.pid)
        if live.kill_reason:  # a stop arrived while the worktree was being prepared
            await kill(live, live.kill_reason)
        assert process.stdout is not None
        readers = {asyncio.create_task(output.read(live, process.stdout))}
        remaining = (run['deadline_at'] - utcnow()).total_seconds()
        try:
            await asyncio.wait_for(exited(process), timeout=max(remaining, 0.01))
        except TimeoutError:
            await kill(live, 'timeout')
            await exited(process)
        # The main process is gone; whatever it left must not outlive the run: its group, and what left the group
        # (setsid, a double fork): its cgroup's processes, or unsandboxed (no PID namespace ends with it) those
        # carrying the run's id.
        procs.kill_group(process.pid, signal.SIGKILL)
        if cgroup is not None:  # what it hit and used read, what is left in it killed, the cgroup removed
            live.cgroup_ending = await asyncio.to_thread(cgroup.end)
        if not live.sandboxed:  # also with a cgroup: an unsandboxed run (root) can write itself out of it
            await asyncio.to_thread(procs.kill_run_processes, run['id'], process.pid)
        await _drain_output(live, readers)
        return process.returncode
    finally:
        if cgroup is not None and live.cgroup_ending is None:  # it never got that far: the cgroup goes all the same
            live.cgroup_ending = await asyncio.to_thread(cgroup.end)


def executable(program: str, worktree: Path, path: str) -> str | None:
    """Where `program` is found as the run's exec would find it (on its PATH, or relative to its checkout), if it
    is an executable file there."""
    found = shutil.which(program, path=path) if '/' not in program else str(worktree / program)
    return found if found is not None and os.path.isfile(found) and os.access(found, os.X_OK) else None


async def _make_cgroup(confinement: Confinement, run: ClaimedRun) -> RunCgroup | None:
    base = confinement.cgroups
    own = base.limits if base is not None else RunLimits()
    memory = limits.run_limit(
        run.get('run_memory_max'), deployment=own.memory_bytes, allowed=confinement.memory_allowed
    )
    cpus = limits.run_limit(run.get('run_cpus'), deployment=own.cpus, allowed=confinement.cpus_allowed)
    held = base.by_controller if base is not None else {}
    if refusal := limits.unheld_limits_refusal(confinement.limits, memory_bytes=memory, cpus=cpus, held=held):
        raise LaunchFailed(refusal)
    if base is None:
        return None
    try:
        return await asyncio.to_thread(base.make, run['id'], memory_bytes=memory, cpus=cpus)
    except OSError as exc:
        raise LaunchFailed(f'could not make the run cgroup that bounds it ({exc.strerror or exc})') from exc


async def exited(process: asyncio.subprocess.Process) -> int:
    """The main process's exit code once it exited. asyncio's `wait()` returns only once its output pipe is closed
    too, which a process it left behind may hold open for ever (unsandboxed: a daemon); its exit code is known at
    once, so it is looked at as well."""
    waiting = asyncio.ensure_future(process.wait())
    try:
        while process.returncode is None and not waiting.done():
            await asyncio.wait({waiting}, timeout=EXIT_POLL_SECONDS)
    finally:
        waiting.cancel()
    assert process.returncode is not None
    return process.returncode


def _writable(run: ClaimedRun) -> list[Path]:
    """What the run may write besides its checkout: its artifacts directory (docs/artifacts.md) and its cache."""
    return [Path(run[key]) for key in ('artifacts_dir', 'cache_dir') if run.get(key)]


async def _drain_output(live: LiveRun, readers: set[asyncio.Task[None]]) -> None:
    pending, seen = readers, -1
    loop = asyncio.get_running_loop()
    give_up = loop.time() + DRAIN_AFTER_EXIT_MAX_SECONDS
    while pending and live.bytes_read != seen and loop.time() < give_up:
        seen = live.bytes_read
        _, pending = await asyncio.wait(pending, timeout=DRAIN_AFTER_EXIT_SECONDS)
    for task in pending:
        task.cancel()
