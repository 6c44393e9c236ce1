"""RunEngine, the in-process executor: claims queued runs under the global cap, runs each one's command
in a fresh git worktree in its own process group, streams its output into the timeline, enforces the
budget, and reaps it the moment it ends. The parts live beside it: claim, process, pull_requests,
recovery; output ingest and liveness in app/services."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text

from app.config import Settings
from app.infra.events import Event, EventBus, of_types
from app.models import RunStatus
from app.services.artifacts.collect import ArtifactKeeper
from app.services.artifacts.store import ArtifactStore
from app.services.execution import limits
from app.services.execution.caches import RunCaches
from app.services.execution.claim import claim_next
from app.services.execution.execution import ExecutionParts, execute_run, tidy_worktree
from app.services.execution.live import ClaimedRun, LiveRun, new_instance_id
from app.services.execution.liveness import beat, usage_event
from app.services.execution.output_ingest import OutputIngest
from app.services.execution.process import confinement_for, kill_process_group
from app.services.execution.pull_requests import PullRequestCheck, end_runs_with_pull_requests
from app.services.execution.reaper import KillReason
from app.services.execution.recovery import recover_orphans
from app.services.repositories.access import RepositoryAccess
from app.services.repositories.commits import CommitTitles

if TYPE_CHECKING:
    from app.services.execution.dispatch import Dispatcher

log = logging.getLogger(__name__)
ENGINE_EVENTS = of_types('run.stop', 'queue')  # what _listen acts on
STOP_ASKED_SQL = text('SELECT 1 FROM run WHERE id = :id AND stop_requested_at IS NOT NULL')
FINISH_ATTEMPTS = 5
RunFinished = Callable[[str, str], None]  # (project_id, status), e.g. the AFK sweep's kick


class RunEngine:
    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        bus: EventBus,
        repositories: RepositoryAccess,
        instance_id: str | None = None,
    ):
        self.settings = settings
        self.engine = engine
        self.bus = bus
        self.instance_id = instance_id or new_instance_id()
        self.output = OutputIngest(settings=settings, engine=engine, bus=bus)
        self.live: dict[str, LiveRun] = {}
        self.pull_requests = PullRequestCheck()
        self.on_run_finished: list[RunFinished] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._drain_lock = asyncio.Lock()
        self._drain_pending = False  # a drain is spawned but has not started: further kicks fold into it
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._events_task: asyncio.Task[None] | None = None
        self._closing = False
        self.dispatcher: Dispatcher | None = None  # executor=celery: queued runs go to workers, not here
        self.confinement = confinement_for(settings)  # how this instance's runs are sandboxed (or refused)
        # where the files runs leave are kept (docs/artifacts.md): this executor uploads them itself
        self.artifact_store = ArtifactStore.from_settings(
            settings.data_dir, settings.artifact_store, settings.artifact_store_options
        )
        self.artifacts = ArtifactKeeper(
            engine=engine,
            store=self.artifact_store,
            staging=settings.artifact_staging_dir,
            limit=settings.max_artifact_bytes,
        )
        self.commits = CommitTitles(engine, settings.mirrors_dir)
        self._parts = ExecutionParts(
            engine=engine,
            mirrors_dir=settings.mirrors_dir,
            repositories=repositories,
            output=self.output,
            pull_requests=self.pull_requests,
            kill=self._kill,
            confinement=self.confinement,
            artifacts=self.artifacts,
            caches=RunCaches(settings.caches_dir, settings.cache_max_bytes),
            commits=self.commits,
        )
        self.caches = self._parts.caches  # a worker's beat reports what they hold

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await asyncio.to_thread(self.recover)
        self._heartbeat_task = asyncio.create_task(self._heartbeat_loop())
        self._events_task = asyncio.create_task(self._listen(self.bus.subscribe(ENGINE_EVENTS)))
        self.kick()

    async def close(self) -> None:
        """Graceful shutdown: runs this instance owns cannot outlive it, so they end as crashed."""
        self._closing = True
        for task in (self._heartbeat_task, self._events_task):
            if task:
                task.cancel()
        await asyncio.gather(*(self._kill(live, 'shutdown') for live in list(self.live.values())))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.kill_grace_seconds + 5
        while self._tasks:  # a drain may still spawn a run's task (which then ends at once as crashed)
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.wait(set(self._tasks), timeout=remaining)
        await asyncio.to_thread(limits.release_bases)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _listen(self, queue: asyncio.Queue[Event]) -> None:
        while True:
            event = await queue.get()
            kind = event.get('type')
            if kind == 'run.stop' and event.get('id') in self.live:
                self._spawn(self._stop_if_asked(event['id']))  # never block the listener on a grace
            elif kind == 'queue':
                self.kick()

    async def _stop_if_asked(self, run_id: str) -> None:
        """A `run.stop` on the bus is a hint: the run is stopped only when the database says a stop was asked (what
        stop_run writes before it publishes). Anyone who reaches the bus (a run, where the network lets it reach
        Redis) could publish one."""
        asked = await asyncio.to_thread(self._stop_asked, run_id)
        live = self.live.get(run_id)
        if asked and live is not None:
            await self._kill(live, 'stop')

    def _stop_asked(self, run_id: str) -> bool:
        with self.engine.connect() as conn:
            return bool(conn.execute(STOP_ASKED_SQL, {'id': run_id}).scalar())

    # ------------------------------------------------------------ queue
    def _cap_full_locally(self) -> bool:
        """This instance's own running runs already fill the global cap: nothing can start, so there is
        no need to ask the database (which still guards every claim, across instances)."""
        if self.dispatcher is not None:  # executor=celery: the cap is the workers' slots
            return False
        return len(self.live) >= self.settings.global_run_cap

    def kick(self) -> None:
        if not self._closing and not self._drain_pending and not self._cap_full_locally():
            self._drain_pending = True
            self._spawn(self._drain())

    async def _drain(self) -> None:
        async with self._drain_lock:
            self._drain_pending = False  # kicks from now on need another pass after this one
            if self.dispatcher is not None:
                await asyncio.to_thread(self.dispatcher.dispatch_due)
                return
            while not self._closing and not self._cap_full_locally():
                try:
                    claimed = await asyncio.to_thread(self._claim_next)
                except Exception:  # the safety poll kicks the queue again
                    log.exception('claiming the next queued run failed')
                    return
                if claimed is None:
                    return
                for run in claimed:  # empty: the chosen runs were lost to a stop, look again
                    live = self.live[run['id']]
                    if self._closing:  # claimed while shutting down: it must not start a process now
                        live.kill_reason = 'shutdown'
                    self._publish_run(live.run_id, live.project_id, live.team_id, RunStatus.running.value)
                    self._spawn(self._execute(live, run))

    def _claim_next(self) -> list[ClaimedRun] | None:
        """As many queued runs as this instance has free slots, in one claim."""

        def register(run: ClaimedRun) -> None:
            self.live[run['id']] = LiveRun(run_id=run['id'], project_id=run['project_id'], team_id=run['team_id'])

        return claim_next(
            self.engine,
            global_cap=self.settings.global_run_cap,
            instance_id=self.instance_id,
            worktrees_dir=self.settings.worktrees_dir,
            register=register,
            unregister=lambda run_id: self.live.pop(run_id, None),
            limit=self.settings.global_run_cap - len(self.live),
        )

    # ------------------------------------------------------------ one run
    async def _execute(self, live: LiveRun, run: ClaimedRun) -> None:
        worktree = self.settings.worktrees_dir / live.run_id
        status, done = await execute_run(self._parts, live, run, worktree)
        self.live.pop(live.run_id, None)  # if finishing failed, the safety poll reaps it as crashed
        self.kick()  # the slot is free: start the next queued run before tidying up
        if done:
            self._publish_run(live.run_id, live.project_id, live.team_id, status.value)
            self._run_finished_callbacks(live.project_id, status.value)
        # after the slot: a Celery task returns here, and a worker's slot takes its next run while this one is tidied
        self._spawn(tidy_worktree(worktree, status))

    def _run_finished_callbacks(self, project_id: str, status: str) -> None:
        for callback in self.on_run_finished:
            try:
                callback(project_id, status)
            except Exception:
                log.exception('run-finished callback %r failed', callback)

    # ------------------------------------------------------------ pull requests (AFK on a forge)
    async def end_runs_with_pull_requests(self) -> list[str]:
        """Reaper tick: live AFK runs whose pull request exists end as succeeded (pull_requests.py)."""
        return await end_runs_with_pull_requests(self.live, self.pull_requests, emit=self.output.emit, kill=self._kill)

    # ------------------------------------------------------------ stop
    async def _kill(self, live: LiveRun, reason: KillReason) -> None:
        await kill_process_group(live, reason, grace_seconds=self.settings.kill_grace_seconds)

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
                used, stops = await asyncio.to_thread(beat, self.engine, self.instance_id, list(self.live.values()))
                # only for runs still running here: a run's end publishes its final figures after this
                running = [(live, u) for u in used if (live := self.live.get(u.id)) and live.cgroup_ending is None]
                if running:
                    self.bus.publish_many([usage_event(live, u) for live, u in running])
                for run_id in stops:
                    if run_id in self.live and self.live[run_id].kill_reason is None:
                        self._spawn(self._kill(self.live[run_id], 'stop'))
            except Exception:
                log.exception('heartbeat failed')

    def recover(self) -> list[str]:
        """Runs left `running` by a dead instance become `crashed`; their stray processes are killed."""
        finished = recover_orphans(
            self.engine,
            instance_id=self.instance_id,
            # the live view, not a copy: a run claimed after a copy but before recovery reads the table would
            # look running, ours and not live, and be ended as crashed (claims register before they commit)
            live_here=self.live.keys(),
            heartbeat_seconds=self.settings.heartbeat_seconds,
            has_pull_request=self.pull_requests.exists,
        )
        for done in finished:
            self._publish_run(done['id'], done['project_id'], done['team_id'], done['status'])
            self._run_finished_callbacks(done['project_id'], done['status'])
        return [done['id'] for done in finished]

    def safety_poll(self) -> None:
        """Scheduler job: catch anything the event-driven path missed."""
        self.recover()
        self.bus.publish({'type': 'queue'})

    def _publish_run(self, run_id: str, project_id: str, team_id: str, status: str) -> None:
        self.bus.publish({'type': 'run', 'id': run_id, 'project_id': project_id, 'team_id': team_id, 'status': status})
