"""Run engine: claim queued runs under the global cap, run the project's command in a fresh git
worktree in its own process group, stream its output into the timeline, enforce the budget,
and reap it the moment it ends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from app.config import Settings
from app.db import is_sqlite, session_scope
from app.models import RunStatus, utcnow
from app.services import gitops, procs
from app.services.afk_rules import LAUNCH_FAILED
from app.services.events import EventBus
from app.services.output_ingest import FLUSH_RETRY_SECONDS, OutputIngest
from app.services.reaper import KillReason, classify_run, finish_run
from app.services.run_liveness import is_orphaned, refresh_heartbeats, running_runs
from app.services.timeline import append_events, timed_sql

log = logging.getLogger(__name__)
FINISH_ATTEMPTS = 5
DRAIN_AFTER_EXIT_SECONDS = 2.0  # after the exit, keep reading while output still arrives this often ...
DRAIN_AFTER_EXIT_MAX_SECONDS = 30.0  # ... but no longer than this (an escaped process may hold the pipe)


def new_instance_id() -> str:
    return f'{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}'


@dataclass
class LiveRun:
    run_id: str
    project_id: str
    team_id: str
    process: asyncio.subprocess.Process | None = None
    kill_reason: KillReason = None
    buffer: list[tuple[str, str]] = field(default_factory=list)
    buffered_lines: int = 0
    stored_lines: int = 0  # output lines stored or being stored (counts towards max_output_lines)
    truncated: bool = False
    cutting: bool = False  # inside an over-long line: drop bytes until its end
    bytes_read: int = 0
    output_done: asyncio.Event = field(default_factory=asyncio.Event)
    run: dict = field(default_factory=dict)  # the claimed row (kind, issue, repository) for the PR probe


class LaunchFailed(Exception):
    """The run's command (or its worktree) could not start: nothing ran."""


class RunEngine:
    def __init__(self, *, settings: Settings, engine: Engine, bus: EventBus, instance_id: str | None = None):
        self.settings = settings
        self.engine = engine
        self.bus = bus
        self.instance_id = instance_id or new_instance_id()
        self.output = OutputIngest(settings=settings, engine=engine, bus=bus)
        self.live: dict[str, LiveRun] = {}
        self._tasks: set[asyncio.Task] = set()
        self._drain_lock = asyncio.Lock()
        self._drain_pending = False  # a drain is spawned but has not started: further kicks fold into it
        self._heartbeat_task: asyncio.Task | None = None
        self._events_task: asyncio.Task | None = None
        self._closing = False
        self.on_run_finished: list = []  # callbacks(project_id, status) e.g. AFK sweep kick
        self.pull_request_probe = None  # callable(run dict) -> bool: an AFK run's PR exists (forge projects)

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await asyncio.to_thread(self.recover)
        self._heartbeat_task = asyncio.create_task(self._heartbeat_loop())
        queue = self.bus.subscribe()
        self._events_task = asyncio.create_task(self._listen(queue))
        self.kick()

    async def close(self) -> None:
        """Graceful shutdown: runs this instance owns cannot outlive it, so they end as crashed."""
        self._closing = True
        for task in (self._heartbeat_task, self._events_task):
            if task:
                task.cancel()
        await asyncio.gather(*(self._kill(live, 'shutdown') for live in list(self.live.values())))
        deadline = asyncio.get_running_loop().time() + self.settings.kill_grace_seconds + 5
        while self._tasks:  # a drain may still spawn a run's task (which then ends at once as crashed)
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            await asyncio.wait(set(self._tasks), timeout=remaining)

    def _spawn(self, coro) -> asyncio.Task:  # noqa: ANN001
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _listen(self, queue: asyncio.Queue) -> None:
        while True:
            event = await queue.get()
            kind = event.get('type')
            if kind == 'run.stop' and event.get('id') in self.live:
                self._spawn(self._kill(self.live[event['id']], 'stop'))  # never block the listener on a grace
            elif kind == 'queue':
                self.kick()

    # ------------------------------------------------------------ queue
    def _cap_full_locally(self) -> bool:
        """This instance's own running runs already fill the global cap: nothing can start, so there is
        no need to ask the database (which still guards every claim, across instances)."""
        return len(self.live) >= self.settings.global_run_cap

    def kick(self) -> None:
        if not self._closing and not self._drain_pending and not self._cap_full_locally():
            self._drain_pending = True
            self._spawn(self._drain())

    async def _drain(self) -> None:
        async with self._drain_lock:
            self._drain_pending = False  # kicks from now on need another pass after this one
            while not self._closing and not self._cap_full_locally():
                try:
                    claimed = await asyncio.to_thread(self._claim_next)
                except Exception:  # the safety poll kicks the queue again
                    log.exception('claiming the next queued run failed')
                    return
                if claimed is None:
                    return
                if claimed == 'lost':
                    continue
                live = self.live[claimed['id']]
                if self._closing:  # claimed while shutting down: it must not start a process now
                    live.kill_reason = 'shutdown'
                self._publish_run(live.run_id, live.project_id, live.team_id, RunStatus.running.value)
                self._spawn(self._execute(live, claimed))

    def _claim_next(self) -> dict | str | None:
        """Oldest queued run -> running on this instance, if the global cap allows. Atomic.

        Returns None when nothing may start, 'lost' when the chosen run changed under us (stopped by a
        person on another server between the SELECT and the UPDATE), else the claimed run.
        """
        with session_scope(self.engine) as session:
            conn = session.connection()  # SQLite: BEGIN IMMEDIATE, i.e. the write lock
            if not is_sqlite(str(self.engine.url)):
                conn.execute(text('SELECT pg_advisory_xact_lock(727001)'))  # serialise claims across servers
            now = utcnow()  # only once we hold the lock: started_at never precedes the end of the run it replaces
            running = conn.execute(text("SELECT count(*) FROM run WHERE status = 'running'")).scalar_one()
            if running >= self.settings.global_run_cap:
                return None
            row = (
                conn.execute(
                    text(
                        'SELECT r.id, r.project_id, r.budget_seconds, r.checkout_ref, r.branch_name, r.depth_level, '
                        'r.target_framework, r.kind, r.issue_number, r.issue_title, r.issue_body, p.repository, '
                        'p.issue_source, p.command, p.team_id '
                        'FROM run r JOIN project p ON p.id = r.project_id '
                        "WHERE r.status = 'queued' AND r.stop_requested_at IS NULL "
                        'ORDER BY r.created_at, r.id LIMIT 1'
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            deadline = now + timedelta(seconds=row['budget_seconds'])
            updated = conn.execute(
                timed_sql(
                    "UPDATE run SET status = 'running', started_at = :now, deadline_at = :deadline, "
                    'heartbeat_at = :now, owner_instance = :owner '
                    "WHERE id = :id AND status = 'queued' AND stop_requested_at IS NULL",
                    binds=('now', 'deadline'),
                ),
                {'now': now, 'deadline': deadline, 'owner': self.instance_id, 'id': row['id']},
            ).rowcount
            if updated != 1:
                return 'lost'
            append_events(conn, row['id'], [('status', 'running')], now=now)
            claimed = dict(row)
            claimed['deadline_at'] = deadline
            # Registered before the commit: recover() must never see this run `running` as ours yet not live.
            self.live[row['id']] = LiveRun(run_id=row['id'], project_id=row['project_id'], team_id=row['team_id'])
            try:
                session.commit()
            except BaseException:
                self.live.pop(row['id'], None)
                raise
        return claimed

    # ------------------------------------------------------------ one run
    async def _execute(self, live: LiveRun, run: dict) -> None:
        worktree = self.settings.worktrees_dir / live.run_id
        live.run = run
        kill_reason_status: RunStatus | None = None
        exit_code: int | None = None
        error: str | None = None
        launch_failed = False
        flusher = asyncio.create_task(self.output.flush_loop(live))
        try:
            try:
                commit = await asyncio.to_thread(self._prepare_worktree, run, worktree)
                self.output.emit(live, 'stage', f'checkout {run["checkout_ref"]} @ {commit[:12]}')
                exit_code, error = await self._run_process(live, run, worktree)
            except (gitops.GitError, LaunchFailed) as exc:
                cause = f'checkout failed: {exc}' if isinstance(exc, gitops.GitError) else str(exc)
                error = f'{LAUNCH_FAILED}: {cause}'
                launch_failed = not live.kill_reason  # a stop during the checkout still reads stopped
                kill_reason_status = None if live.kill_reason else RunStatus.failed
        except Exception as exc:  # the engine must always reap what it started
            log.exception('run %s failed inside the engine', live.run_id)
            error = f'engine error: {exc}'
            kill_reason_status = RunStatus.crashed
        finally:
            # Let the flusher finish a store in progress (cancelling it mid-store could write output after
            # the terminal status); what is left is stored with the terminal status, in one transaction.
            live.output_done.set()
            with contextlib.suppress(Exception):
                await flusher
            remaining, live.buffer = live.buffer, []
            has_pr = live.kill_reason == 'pull_request' or await self._has_pull_request(run, live)
            status = (RunStatus.succeeded if has_pr else kill_reason_status) or classify_run(
                exit_code=exit_code, kill_reason=live.kill_reason, has_pull_request=has_pr
            )
            if live.kill_reason == 'shutdown':
                error = error or 'server stopped while the run was in progress'
            message = (
                'its pull request was found; the process group was ended'
                if live.kill_reason == 'pull_request'
                else error
            )
            done = await self._finish(
                live.run_id,
                status=status,
                exit_code=exit_code,
                error=error,
                output=remaining,
                launch_failed=launch_failed and not has_pr,
                message=message,
            )
            self.live.pop(live.run_id, None)  # if finishing failed, the safety poll reaps it as crashed
            self.kick()  # the slot is free: start the next queued run before tidying up
            if done:
                self._publish_run(live.run_id, live.project_id, live.team_id, status.value)
                self._run_finished_callbacks(live.project_id, status.value)
            try:
                if status == RunStatus.succeeded:
                    await asyncio.to_thread(gitops.remove_worktree, worktree)
                else:  # kept for inspection: its retention counts from now, not from the checkout
                    os.utime(worktree)
            except (OSError, gitops.GitError):
                log.warning('tidying the worktree of run %s failed', live.run_id, exc_info=True)

    def _run_finished_callbacks(self, project_id: str, status: str) -> None:
        for callback in self.on_run_finished:
            try:
                callback(project_id, status)
            except Exception:
                log.exception('run-finished callback %r failed', callback)

    async def end_runs_with_pull_requests(self) -> list[str]:
        """Reaper tick: a live AFK run whose afk/<N> pull request exists has done its job. Its process
        group is ended (TERM, grace, KILL) and the run ends succeeded, instead of holding the project's
        lane and a global slot until its budget runs out."""
        ended = []
        for live in list(self.live.values()):
            if live.run.get('kind') != 'auto' or live.kill_reason or live.process is None:
                continue
            if not await asyncio.to_thread(self._probe_sync, live.run):
                continue
            if live.kill_reason or live.run_id not in self.live:
                continue  # stopped or ended while we asked the forge
            self.output.emit(
                live,
                'status',
                f'pull request from afk/{live.run.get("issue_number")} found: ending the run as succeeded',
            )
            ended.append(live.run_id)
            await self._kill(live, 'pull_request')
        return ended

    async def _has_pull_request(self, run: dict, live: LiveRun) -> bool:
        """AFK on a forge: an open or merged PR from afk/<N> wins over the process's fate (not a person's Stop)."""
        if self.pull_request_probe is None or run.get('kind') != 'auto' or live.kill_reason == 'stop':
            return False
        return await asyncio.to_thread(self._probe_sync, run)

    def _probe_sync(self, run: dict) -> bool:
        if self.pull_request_probe is None or run.get('kind') != 'auto':
            return False
        try:
            return bool(self.pull_request_probe(run))
        except Exception:  # noqa: BLE001 - a forge outage must not lose the run's real outcome
            log.warning('pull request check failed for run %s', run.get('id'), exc_info=True)
            return False

    async def _finish(self, run_id: str, **outcome) -> dict | None:  # noqa: ANN003
        for attempt in range(FINISH_ATTEMPTS):
            try:
                return await asyncio.to_thread(finish_run, self.engine, run_id=run_id, **outcome)
            except Exception:
                log.exception('reaping run %s failed (attempt %d)', run_id, attempt + 1)
                if attempt == FINISH_ATTEMPTS - 3 and outcome.get('output'):
                    log.error('run %s: storing without its last %d output lines', run_id, len(outcome['output']))
                    outcome['output'] = None  # in case they are what fails: the terminal status matters more
                await asyncio.sleep(FLUSH_RETRY_SECONDS * (attempt + 1))
        return None

    def _prepare_worktree(self, run: dict, worktree: Path) -> str:
        mirror = gitops.refresh_mirror(self.settings.mirrors_dir, run['repository'])
        commit = gitops.add_worktree(mirror, worktree, run['checkout_ref'])
        with session_scope(self.engine) as session:
            session.connection().execute(
                text('UPDATE run SET worktree_path = :p WHERE id = :id'), {'p': str(worktree), 'id': run['id']}
            )
        return commit

    def _environment(self, run: dict) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith('RUNBOARD_')}
        env.update(
            {
                'RUNBOARD_RUN_ID': run['id'],
                'RUNBOARD_PROJECT_ID': run['project_id'],
                'RUNBOARD_BRANCH': run['branch_name'],
                'RUNBOARD_DEPTH_LEVEL': run['depth_level'],
                'RUNBOARD_TARGET_FRAMEWORK': run['target_framework'],
                'PYTHONUNBUFFERED': '1',
            }
        )
        if run.get('issue_number') is not None:
            env['RUNBOARD_ISSUE_NUMBER'] = str(run['issue_number'])
            env['RUNBOARD_ISSUE_TITLE'] = run.get('issue_title') or ''
            env['RUNBOARD_ISSUE_BODY'] = run.get('issue_body') or ''
        return env

    async def _run_process(self, live: LiveRun, run: dict, worktree: Path) -> tuple[int | None, str | None]:
        command = run['command']
        if isinstance(command, str):
            command = json.loads(command)
        if live.kill_reason:  # stopped (or the server is closing) while the worktree was being prepared
            return None, None
        try:
            process = await asyncio.create_subprocess_exec(
                *command,
                cwd=worktree,
                env=self._environment(run),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise LaunchFailed(f'could not start {command[0]!r}: {exc.strerror or exc}') from exc
        live.process = process
        await asyncio.to_thread(self._record_pid, live.run_id, process.pid, run)
        if live.kill_reason:  # a stop arrived while the worktree was being prepared
            await self._kill(live, live.kill_reason)
        readers = [asyncio.create_task(self.output.read(live, process.stdout))]  # stderr merged: order kept
        remaining = (run['deadline_at'] - utcnow()).total_seconds()
        try:
            await asyncio.wait_for(process.wait(), timeout=max(remaining, 0.01))
        except TimeoutError:
            await self._kill(live, 'timeout')
            await process.wait()
        # The main process is gone; whatever it left in its group must not outlive the run.
        procs.kill_group(process.pid, signal.SIGKILL)
        pending, seen = set(readers), -1
        give_up = asyncio.get_running_loop().time() + DRAIN_AFTER_EXIT_MAX_SECONDS
        while pending and live.bytes_read != seen and asyncio.get_running_loop().time() < give_up:
            seen = live.bytes_read
            _, pending = await asyncio.wait(pending, timeout=DRAIN_AFTER_EXIT_SECONDS)
        for task in pending:
            task.cancel()
        return process.returncode, None

    def _record_pid(self, run_id: str, pid: int, run: dict) -> None:
        with session_scope(self.engine) as session:
            conn = session.connection()
            conn.execute(text('UPDATE run SET pid = :pid WHERE id = :id'), {'pid': pid, 'id': run_id})
            if run.get('kind') == 'auto':  # an AFK command started: an earlier launch failure no longer holds
                conn.execute(
                    text(
                        'UPDATE project SET launch_error = NULL, launch_error_at = NULL '
                        'WHERE id = :p AND launch_error IS NOT NULL'
                    ),
                    {'p': run['project_id']},
                )

    async def _kill(self, live: LiveRun, reason: KillReason) -> None:
        """SIGTERM the whole process group, then SIGKILL after the grace period."""
        if live.kill_reason is None:
            live.kill_reason = reason
        process = live.process
        if process is None or process.returncode is not None:
            return
        procs.kill_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(process.wait()), timeout=self.settings.kill_grace_seconds)
        except TimeoutError:
            procs.kill_group(process.pid, signal.SIGKILL)

    def request_stop(self, run_id: str) -> bool:
        live = self.live.get(run_id)
        if live is None:
            return False
        self._spawn(self._kill(live, 'stop'))
        return True

    # ------------------------------------------------------------ liveness
    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                stops = await asyncio.to_thread(refresh_heartbeats, self.engine, self.instance_id)
                for run_id in stops:
                    if run_id in self.live and self.live[run_id].kill_reason is None:
                        self._spawn(self._kill(self.live[run_id], 'stop'))
            except Exception:
                log.exception('heartbeat failed')

    def recover(self) -> list[str]:
        """Runs left `running` by a dead instance become `crashed`; their stray processes are killed."""
        stale_before = utcnow() - timedelta(seconds=3 * self.settings.heartbeat_seconds)
        crashed = []
        for run_id, owner, heartbeat, pid, kind, issue_number, project_id, issue_source, repository in running_runs(
            self.engine
        ):
            if not is_orphaned(
                owner=owner,
                me=self.instance_id,
                live_here=run_id in self.live,
                heartbeat=heartbeat,
                stale_before=stale_before,
                owner_process_dead=owner != self.instance_id and procs.owner_is_dead(owner),
            ):
                continue
            killed = procs.kill_run_processes(run_id, pid)
            note = f'owner instance {owner} is gone'
            if killed:
                note += f'; killed {killed} leftover process(es)'
            has_pr = self._probe_sync(
                {
                    'id': run_id,
                    'kind': kind,
                    'issue_number': issue_number,
                    'project_id': project_id,
                    'issue_source': issue_source,
                    'repository': repository,
                }
            )
            status = classify_run(exit_code=None, owner_gone=True, has_pull_request=has_pr)
            done = finish_run(
                self.engine,
                run_id=run_id,
                status=status,
                error=None if has_pr else 'owner instance gone',
                message=note + ('; its pull request counts as success' if has_pr else ''),
            )
            if done:
                crashed.append(run_id)
                self.bus.publish(
                    {
                        'type': 'run',
                        'id': run_id,
                        'project_id': done['project_id'],
                        'team_id': done['team_id'],
                        'status': done['status'],
                    }
                )
                self._run_finished_callbacks(done['project_id'], done['status'])
        return crashed

    def safety_poll(self) -> None:
        """Scheduler job: catch anything the event-driven path missed."""
        self.recover()
        self.bus.publish({'type': 'queue'})

    def _publish_run(self, run_id: str, project_id: str, team_id: str, status: str) -> None:
        self.bus.publish({'type': 'run', 'id': run_id, 'project_id': project_id, 'team_id': team_id, 'status': status})
