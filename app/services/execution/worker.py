"""`runboard worker`: a Celery worker of the Runboard app. Each worker process keeps one WorkerEngine (the
in-process engine's parts: worktree from its own mirror, process group, output ingest, budget, heartbeats,
stops arriving over the Redis event bus) on a private asyncio loop; each task claims its run by id
(queued -> running, atomically) and executes it there. It writes to the shared database and event bus
exactly as the server's own engine does, so browsers see live output.

The worker consumes the queues of its runner labels (routing.py), registers itself in the worker
registry and beats there every heartbeat interval; a drain set by a person is read on the next beat and
cancels its consumers through Celery's remote control, so it takes nothing new while its runs finish."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from importlib.metadata import version
from typing import Any

from celery import Celery
from celery.signals import celeryd_after_setup
from celery.utils.nodenames import default_nodename, host_format

from app.config import Settings
from app.infra import db
from app.infra.events import make_bus
from app.infra.secret_box import SecretBox
from app.models import RunStatus
from app.services.execution import caches, limits, workers
from app.services.execution.celery_app import TASK, make_celery
from app.services.execution.claim import claim_run
from app.services.execution.deployment_checks import WORKER_KEY_ADVICE, store_warning_of, worker_refusal_of
from app.services.execution.dispatch import forget_dispatch
from app.services.execution.engine import ENGINE_EVENTS, RunEngine
from app.services.execution.live import ClaimedRun, LiveRun, new_instance_id
from app.services.execution.recovery import kill_leftovers_of_dead_instances
from app.services.execution.routing import queues_served
from app.services.repositories.access import RepositoryAccess
from app.services.repositories.gitops import BranchCache

log = logging.getLogger(__name__)


class WorkerEngine(RunEngine):
    """Executes the runs it is handed by id; never drains the queue itself (the server dispatches)."""

    def kick(self) -> None:
        pass

    async def start_worker(self) -> None:
        await self.bus.start()
        self._heartbeat_task = asyncio.create_task(self._heartbeat_loop())
        self._events_task = asyncio.create_task(self._listen(self.bus.subscribe(ENGINE_EVENTS)))

    async def execute_by_id(self, run_id: str) -> str | None:
        def register(run: ClaimedRun) -> None:
            self.live[run['id']] = LiveRun(run_id=run['id'], project_id=run['project_id'], team_id=run['team_id'])

        claimed = await asyncio.to_thread(
            claim_run,
            self.engine,
            run_id,
            global_cap=None,  # the worker's slots (Celery's thread pool) bound what it runs
            instance_id=self.instance_id,
            worktrees_dir=self.settings.worktrees_dir,
            register=register,
            unregister=lambda gone: self.live.pop(gone, None),
        )
        if claimed is None or claimed == 'lost':
            return None  # stopped meanwhile, or already taken (a duplicate publish)
        live = self.live[run_id]
        self._publish_run(run_id, live.project_id, live.team_id, RunStatus.running.value)
        await self._execute(live, claimed)
        return run_id


class WorkerRuntime:
    """One per worker process: the engine on its loop, the registry row and its heartbeat."""

    def __init__(self, settings: Settings, app: Celery, *, name: str, labels: list[str], slots: int) -> None:
        self.settings, self.app, self.name, self.labels = settings, app, name, labels
        # Celery names its node `celery@w1` for `--hostname=w1`; its remote control reaches only that name
        self.node = default_nodename(name)
        settings.private_data_dir()  # its checkouts hold every team's code, its key file the secrets' key
        self.db = db.make_engine(settings.effective_database_url)
        db.upgrade(self.db)
        repositories = RepositoryAccess(
            settings=settings,
            branches=BranchCache(),
            secrets=SecretBox.from_settings(settings.data_dir, settings.secret_key, advice=WORKER_KEY_ADVICE),
        )
        self.engine = WorkerEngine(
            settings=settings,
            engine=self.db,
            bus=make_bus(settings.redis_url, settings.redis_prefix),
            repositories=repositories,
            instance_id=new_instance_id(),
        )
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name='runboard-worker-loop', daemon=True).start()
        asyncio.run_coroutine_threadsafe(self.engine.start_worker(), self.loop).result(timeout=30)
        self.slots = slots
        self.draining = self._register()
        for run_id in kill_leftovers_of_dead_instances(self.db, self.engine.instance_id):
            log.warning('killed the processes run %s left behind on this machine (its worker is gone)', run_id)
        # the run caches of projects deleted while this worker was away (the server tidies its own hourly)
        caches.tidy(settings.caches_dir, caches.project_ids(self.db))
        if self.engine.caches is not None:  # their sizes, for the project's Settings (a large cache takes a while)
            threading.Thread(target=self.engine.caches.measure_left, name='runboard-cache-sizes', daemon=True).start()
        self.consuming = True  # Celery starts consuming every queue of our labels
        self._stop = threading.Event()
        threading.Thread(target=self._beat_forever, name='runboard-worker-beat', daemon=True).start()
        self.engine.bus.publish({'type': 'queue'})  # a new worker: the server dispatches what it can serve

    def _register(self) -> bool:
        return workers.register(
            self.db,
            name=self.name,
            instance_id=self.engine.instance_id,
            host=socket.gethostname(),
            pid=os.getpid(),
            labels=self.labels,
            slots=self.slots,
            version=version('runboard'),
            confinement=self.engine.confinement.facts(),
        )

    def execute(self, run_id: str) -> str | None:
        if self.draining:  # taken from the queue just before the drain took effect: let it go back
            forget_dispatch(self.db, run_id)
            self.engine.bus.publish({'type': 'queue'})
            return None
        return asyncio.run_coroutine_threadsafe(self.engine.execute_by_id(run_id), self.loop).result()

    def _beat_forever(self) -> None:
        said: dict[str, dict] | None = None  # what the row holds of this machine's caches (written when it changes)
        while True:
            try:
                held = self.engine.caches.report() if self.engine.caches is not None else {}
                draining = workers.beat(self.db, self.name, caches=None if held == said else held)
                if draining is None:  # an administrator removed the row (or a sweep after a long silence)
                    log.warning('worker %s was no longer registered: registering again', self.name)
                    draining, said = self._register(), None  # the next beat writes the caches again
                else:
                    said = held
                self.draining = draining
                if self.draining == self.consuming:
                    self._set_consuming(not self.draining)
            except Exception:  # the database is away: the next beat tries again
                log.exception('worker heartbeat failed')
            if self._stop.wait(self.settings.heartbeat_seconds):
                return

    def _set_consuming(self, consume: bool) -> None:
        """Through Celery's remote control, to this worker only: stop or resume taking runs. Done only once the node
        answered for every queue; else the next beat asks again (the first beat comes before Celery consumes, which
        a worker drained before its restart meets)."""
        control = self.app.control
        change = 'add_consumer' if consume else 'cancel_consumer'
        unanswered = []
        for queue in queues_served(self.labels, self.settings.redis_prefix):
            if consume:
                replies = control.add_consumer(queue, destination=[self.node], reply=True, timeout=5)
            else:
                replies = control.cancel_consumer(queue, destination=[self.node], reply=True, timeout=5)
            if not replies:
                unanswered.append(queue)
        if unanswered:
            log.warning(
                'worker %s: Celery node %s did not answer %s of %s; asking again at the next heartbeat',
                self.name,
                self.node,
                change,
                ', '.join(unanswered),
            )
            return
        self.consuming = consume
        log.info('worker %s %s', self.name, 'takes runs again' if consume else 'is draining: takes no new runs')
        self.engine.bus.publish({'type': 'queue'})

    def shutdown(self) -> None:
        self._stop.set()
        workers.mark_stopped(self.db, self.name)
        limits.release_bases()


def worker_app(runtime: dict[str, WorkerRuntime], settings: Settings) -> Celery:
    app = make_celery(settings)

    @app.task(name=TASK)
    def execute_run(run_id: str) -> Any:
        return runtime['one'].execute(run_id)

    return app


def confinement_line(facts: dict) -> str:
    """Pure: how a worker's runs execute, said once at its start (README, "How runs reach the workers"): its
    sandbox and limits, and what is wrong with either."""
    said = f'runs execute {facts["sandbox"]}, limits: {facts["limits"]}'
    problems = [facts[key] for key in ('sandbox_warning', 'limits_warning') if facts.get(key)]
    return '; '.join([said, *problems])


class WorkerRefused(Exception):
    """The worker must not start as configured (the message says why and what to set)."""


def check_start(settings: Settings) -> None:
    """Before anything is made: WorkerRefused without the server's secret key in team mode; and once Celery has set
    up the log, a WARNING there when the artifacts of its runs would stay where no server reads them
    (deployment_checks)."""
    refusal = worker_refusal_of(settings)
    if refusal is not None:
        raise WorkerRefused(refusal)
    warning = store_warning_of(settings, on_worker=True)
    if warning is not None:
        celeryd_after_setup.connect(lambda **_: log.warning(warning), weak=False)


def run_worker(settings: Settings, *, slots: int, labels: list[str], name: str | None = None) -> None:
    """Blocks: a Celery worker with `slots` threads, one run each, taking the runs its labels can serve."""
    check_start(settings)
    node = host_format(name or 'runboard@%h')
    runtime: dict[str, WorkerRuntime] = {}
    app = worker_app(runtime, settings)
    runtime['one'] = WorkerRuntime(settings, app, name=node, labels=labels, slots=slots)
    said = confinement_line(runtime['one'].engine.confinement.facts())
    celeryd_after_setup.connect(lambda **_: log.info('worker %s: %s', node, said), weak=False)  # once it logs
    argv = [
        'worker',
        '--pool=threads',
        f'--concurrency={slots}',
        '--loglevel=INFO',
        '--without-gossip',
        '--without-mingle',
        f'--hostname={node}',
        f'--queues={",".join(queues_served(labels, settings.redis_prefix))}',
    ]
    try:
        app.worker_main(argv)
    finally:
        runtime['one'].shutdown()
