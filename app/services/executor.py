"""Run engine: claim queued runs under the global cap, run the project's command in a fresh git
worktree in its own process group, stream its output into the timeline, enforce the budget,
and reap it the moment it ends."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
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
from app.services.events import EventBus
from app.services.reaper import KillReason, classify_run, finish_run
from app.services.timeline import append_events

log = logging.getLogger(__name__)
STAGE_RE = re.compile(r'^::stage::\s*(.+)$')
READ_CHUNK = 64 * 1024
FLUSH_SECONDS = 0.05
FLUSH_LINES = 2000
DRAIN_AFTER_EXIT_SECONDS = 2.0


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
    stored_lines: int = 0
    truncated: bool = False
    flushed: asyncio.Event = field(default_factory=asyncio.Event)


class RunEngine:
    def __init__(self, *, settings: Settings, engine: Engine, bus: EventBus, instance_id: str | None = None):
        self.settings = settings
        self.engine = engine
        self.bus = bus
        self.instance_id = instance_id or new_instance_id()
        self.live: dict[str, LiveRun] = {}
        self._tasks: set[asyncio.Task] = set()
        self._drain_lock = asyncio.Lock()
        self._drain_pending = False  # a drain is spawned but has not started: further kicks fold into it
        self._heartbeat_task: asyncio.Task | None = None
        self._events_task: asyncio.Task | None = None
        self._closing = False
        self.on_run_finished: list = []  # callbacks(project_id, status) e.g. AFK sweep kick

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
        for live in list(self.live.values()):
            await self._kill(live, 'shutdown')
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=self.settings.kill_grace_seconds + 5)

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
                await self._kill(self.live[event['id']], 'stop')
            elif kind == 'queue':
                self.kick()

    # ------------------------------------------------------------ queue
    def kick(self) -> None:
        if not self._closing and not self._drain_pending:
            self._drain_pending = True
            self._spawn(self._drain())

    async def _drain(self) -> None:
        async with self._drain_lock:
            self._drain_pending = False  # kicks from now on need another pass after this one
            while not self._closing:
                claimed = await asyncio.to_thread(self._claim_next)
                if claimed is None:
                    return
                live = LiveRun(run_id=claimed['id'], project_id=claimed['project_id'], team_id=claimed['team_id'])
                self.live[live.run_id] = live
                self._publish_run(live.run_id, live.project_id, live.team_id, RunStatus.running.value)
                self._spawn(self._execute(live, claimed))

    def _claim_next(self) -> dict | None:
        """Oldest queued run -> running on this instance, if the global cap allows. Atomic."""
        now = utcnow()
        with session_scope(self.engine) as session:
            conn = session.connection()
            if not is_sqlite(str(self.engine.url)):
                conn.execute(text('SELECT pg_advisory_xact_lock(727001)'))  # serialise claims across servers
            running = conn.execute(text("SELECT count(*) FROM run WHERE status = 'running'")).scalar_one()
            if running >= self.settings.global_run_cap:
                return None
            row = conn.execute(text(
                "SELECT r.id, r.project_id, r.budget_seconds, r.checkout_ref, r.branch_name, r.depth_level, "
                "r.target_framework, r.issue_number, r.issue_title, p.repository, p.command, p.team_id "
                "FROM run r JOIN project p ON p.id = r.project_id "
                "WHERE r.status = 'queued' ORDER BY r.created_at, r.id LIMIT 1")).mappings().first()
            if row is None:
                return None
            deadline = now + timedelta(seconds=row['budget_seconds'])
            conn.execute(text(
                "UPDATE run SET status = 'running', started_at = :now, deadline_at = :deadline, "
                "heartbeat_at = :now, owner_instance = :owner WHERE id = :id AND status = 'queued'"),
                {'now': now, 'deadline': deadline, 'owner': self.instance_id, 'id': row['id']})
            append_events(conn, row['id'], [('status', 'running')], now=now)
            claimed = dict(row)
            claimed['deadline_at'] = deadline
        return claimed

    # ------------------------------------------------------------ one run
    async def _execute(self, live: LiveRun, run: dict) -> None:
        worktree = self.settings.worktrees_dir / live.run_id
        kill_reason_status: RunStatus | None = None
        exit_code: int | None = None
        error: str | None = None
        flusher = asyncio.create_task(self._flush_loop(live))
        try:
            try:
                commit = await asyncio.to_thread(self._prepare_worktree, run, worktree)
            except gitops.GitError as exc:
                error = f'checkout failed: {exc}'
                kill_reason_status = RunStatus.failed
            else:
                self._emit(live, 'stage', f'checkout {run["checkout_ref"]} @ {commit[:12]}')
                exit_code, error = await self._run_process(live, run, worktree)
        except Exception as exc:  # the engine must always reap what it started
            log.exception('run %s failed inside the engine', live.run_id)
            error = f'engine error: {exc}'
            kill_reason_status = RunStatus.crashed
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await self._flush(live)
            status = kill_reason_status or classify_run(exit_code=exit_code, kill_reason=live.kill_reason)
            if live.kill_reason == 'shutdown':
                error = error or 'server stopped while the run was in progress'
            done = await asyncio.to_thread(finish_run, self.engine, run_id=live.run_id, status=status,
                                           exit_code=exit_code, error=error, message=error)
            self.live.pop(live.run_id, None)
            if status == RunStatus.succeeded:
                await asyncio.to_thread(gitops.remove_worktree, worktree)
            if done:
                self._publish_run(live.run_id, live.project_id, live.team_id, status.value)
                for callback in self.on_run_finished:
                    callback(live.project_id, status.value)
            self.kick()

    def _prepare_worktree(self, run: dict, worktree: Path) -> str:
        mirror = gitops.refresh_mirror(self.settings.mirrors_dir, run['repository'])
        commit = gitops.add_worktree(mirror, worktree, run['checkout_ref'])
        with session_scope(self.engine) as session:
            session.connection().execute(text('UPDATE run SET worktree_path = :p WHERE id = :id'),
                                         {'p': str(worktree), 'id': run['id']})
        return commit

    def _environment(self, run: dict) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith('RUNBOARD_')}
        env.update({
            'RUNBOARD_RUN_ID': run['id'],
            'RUNBOARD_PROJECT_ID': run['project_id'],
            'RUNBOARD_BRANCH': run['branch_name'],
            'RUNBOARD_DEPTH_LEVEL': run['depth_level'],
            'RUNBOARD_TARGET_FRAMEWORK': run['target_framework'],
            'PYTHONUNBUFFERED': '1',
        })
        if run.get('issue_number') is not None:
            env['RUNBOARD_ISSUE_NUMBER'] = str(run['issue_number'])
            env['RUNBOARD_ISSUE_TITLE'] = run.get('issue_title') or ''
            env['RUNBOARD_ISSUE_BODY'] = run.get('issue_body') or ''
        return env

    async def _run_process(self, live: LiveRun, run: dict, worktree: Path) -> tuple[int | None, str | None]:
        command = run['command']
        if isinstance(command, str):
            import json
            command = json.loads(command)
        try:
            process = await asyncio.create_subprocess_exec(
                *command, cwd=worktree, env=self._environment(run), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            return None, f'could not start {command[0]!r}: {exc.strerror or exc}'
        live.process = process
        await asyncio.to_thread(self._record_pid, live.run_id, process.pid)
        if live.kill_reason:  # a stop arrived while the worktree was being prepared
            await self._kill(live, live.kill_reason)
        readers = [asyncio.create_task(self._read(live, process.stdout))]  # stderr merged: order kept
        remaining = (run['deadline_at'] - utcnow()).total_seconds()
        try:
            await asyncio.wait_for(process.wait(), timeout=max(remaining, 0.01))
        except asyncio.TimeoutError:
            await self._kill(live, 'timeout')
            await process.wait()
        # The main process is gone; whatever it left in its group must not outlive the run.
        procs.kill_group(process.pid, signal.SIGKILL)
        done, pending = await asyncio.wait(readers, timeout=DRAIN_AFTER_EXIT_SECONDS)
        for task in pending:
            task.cancel()
        return process.returncode, None

    def _record_pid(self, run_id: str, pid: int) -> None:
        with session_scope(self.engine) as session:
            session.connection().execute(text('UPDATE run SET pid = :pid WHERE id = :id'), {'pid': pid, 'id': run_id})

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
        except asyncio.TimeoutError:
            procs.kill_group(process.pid, signal.SIGKILL)

    def request_stop(self, run_id: str) -> bool:
        live = self.live.get(run_id)
        if live is None:
            return False
        self._spawn(self._kill(live, 'stop'))
        return True

    # ------------------------------------------------------------ output
    async def _read(self, live: LiveRun, stream: asyncio.StreamReader) -> None:
        pending = b''
        limit = self.settings.max_line_chars
        while True:
            chunk = await stream.read(READ_CHUNK)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b'\n')
            for raw in lines:
                self._emit_output(live, raw.decode('utf-8', 'replace').rstrip('\r'), limit)
            if len(pending) > limit * 4:  # a line with no end in sight: cut it now
                self._emit_output(live, pending.decode('utf-8', 'replace'), limit)
                pending = b''
        if pending:
            self._emit_output(live, pending.decode('utf-8', 'replace').rstrip('\r'), limit)

    def _emit_output(self, live: LiveRun, line: str, limit: int) -> None:
        if len(line) > limit:
            line = line[:limit] + f' … [line cut at {limit} characters]'
        stage = STAGE_RE.match(line)
        if stage:
            self._emit(live, 'stage', stage.group(1).strip())
            return
        if live.stored_lines + live.buffered_lines >= self.settings.max_output_lines:
            if not live.truncated:
                live.truncated = True
                live.buffer.append(('status', f'output truncated: more than {self.settings.max_output_lines} '
                                              f'lines; the rest is not stored'))
            return
        live.buffer.append(('output', line))
        live.buffered_lines += 1

    def _emit(self, live: LiveRun, kind: str, body: str) -> None:
        live.buffer.append((kind, body))

    async def _flush_loop(self, live: LiveRun) -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            if live.buffer:
                await self._flush(live)

    async def _flush(self, live: LiveRun) -> None:
        if not live.buffer:
            return
        batch, lines = live.buffer, live.buffered_lines
        live.buffer, live.buffered_lines = [], 0
        for start in range(0, len(batch), FLUSH_LINES * 5):
            part = batch[start:start + FLUSH_LINES * 5]
            part_lines = sum(1 for kind, _ in part if kind == 'output')
            last_seq = await asyncio.to_thread(self._store, live.run_id, part, part_lines)
        live.stored_lines += lines
        self.bus.publish({'type': 'run.output', 'id': live.run_id, 'project_id': live.project_id,
                          'team_id': live.team_id, 'last_seq': last_seq})

    def _store(self, run_id: str, batch: list[tuple[str, str]], lines: int) -> int:
        with session_scope(self.engine) as session:
            return append_events(session.connection(), run_id, batch, output_lines=lines)

    # ------------------------------------------------------------ liveness
    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                stops = await asyncio.to_thread(self._heartbeat)
                for run_id in stops:
                    if run_id in self.live and self.live[run_id].kill_reason is None:
                        self._spawn(self._kill(self.live[run_id], 'stop'))
            except Exception:
                log.exception('heartbeat failed')

    def _heartbeat(self) -> list[str]:
        """Refresh our runs' heartbeat; return those a person asked to stop (in case the bus missed it)."""
        with session_scope(self.engine) as session:
            conn = session.connection()
            conn.execute(text("UPDATE run SET heartbeat_at = :now WHERE owner_instance = :me AND status = 'running'"),
                         {'now': utcnow(), 'me': self.instance_id})
            rows = conn.execute(text("SELECT id FROM run WHERE owner_instance = :me AND status = 'running' "
                                     "AND stop_requested_at IS NOT NULL"), {'me': self.instance_id}).all()
        return [r[0] for r in rows]

    def recover(self) -> list[str]:
        """Runs left `running` by a dead instance become `crashed`; their stray processes are killed."""
        stale_before = utcnow() - timedelta(seconds=3 * self.settings.heartbeat_seconds)
        with session_scope(self.engine) as session:
            rows = session.connection().execute(text(
                "SELECT id, owner_instance, heartbeat_at, pid FROM run WHERE status = 'running'")).all()
        crashed = []
        for run_id, owner, heartbeat, pid in rows:
            if owner == self.instance_id:
                if run_id in self.live:
                    continue
                dead = True  # ours on paper, but no live process here: it cannot finish
            else:
                dead = procs.owner_is_dead(owner) or heartbeat is None or _aware(heartbeat) < stale_before
            if not dead:
                continue
            killed = procs.kill_run_processes(run_id, pid)
            note = f'owner instance {owner} is gone'
            if killed:
                note += f'; killed {killed} leftover process(es)'
            done = finish_run(self.engine, run_id=run_id, status=classify_run(exit_code=None, owner_gone=True),
                              error='owner instance gone', message=note)
            if done:
                crashed.append(run_id)
                self.bus.publish({'type': 'run', 'id': run_id, 'project_id': done['project_id'],
                                  'team_id': done['team_id'], 'status': done['status']})
                for callback in self.on_run_finished:
                    callback(done['project_id'], done['status'])
        return crashed

    def safety_poll(self) -> None:
        """Scheduler job: catch anything the event-driven path missed."""
        self.recover()
        self.bus.publish({'type': 'queue'})

    def _publish_run(self, run_id: str, project_id: str, team_id: str, status: str) -> None:
        self.bus.publish({'type': 'run', 'id': run_id, 'project_id': project_id, 'team_id': team_id,
                          'status': status})


def _aware(moment):  # noqa: ANN001, ANN202
    from datetime import timezone
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
