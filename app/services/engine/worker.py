"""`runboard worker`: a Celery worker of the Runboard app. Each worker process keeps one WorkerEngine (the
in-process engine's parts: worktree from its own mirror, process group, output ingest, budget, heartbeats,
stops arriving over the Redis event bus) on a private asyncio loop; each task claims its run by id
(queued -> running, atomically) and executes it there. It writes to the shared database and event bus
exactly as the server's own engine does, so browsers see live output."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from celery import Celery

from app import db
from app.config import Settings
from app.models import RunStatus
from app.services.engine.celery_app import TASK, make_celery
from app.services.engine.claim import claim_run
from app.services.engine.engine import RunEngine
from app.services.engine.live import ClaimedRun, LiveRun, new_instance_id
from app.services.events import make_bus
from app.services.gitops import BranchCache
from app.services.repositories import RepositoryAccess
from app.services.secret_box import SecretBox

log = logging.getLogger(__name__)


class WorkerEngine(RunEngine):
    """Executes the runs it is handed by id; never drains the queue itself (the server dispatches)."""

    def kick(self) -> None:
        pass

    async def start_worker(self) -> None:
        await self.bus.start()
        self._heartbeat_task = asyncio.create_task(self._heartbeat_loop())
        self._events_task = asyncio.create_task(self._listen(self.bus.subscribe()))

    async def execute_by_id(self, run_id: str) -> str | None:
        def register(run: ClaimedRun) -> None:
            self.live[run['id']] = LiveRun(run_id=run['id'], project_id=run['project_id'], team_id=run['team_id'])

        claimed = await asyncio.to_thread(
            claim_run,
            self.engine,
            run_id,
            global_cap=self.settings.global_run_cap,
            instance_id=self.instance_id,
            register=register,
            unregister=lambda gone: self.live.pop(gone, None),
        )
        if claimed is None or claimed == 'lost':
            return None  # stopped meanwhile, already taken, or the cap is full (the dispatch sweep resends)
        live = self.live[run_id]
        self._publish_run(run_id, live.project_id, live.team_id, RunStatus.running.value)
        await self._execute(live, claimed)
        return run_id


class WorkerRuntime:
    """One per worker process, made on its first task."""

    def __init__(self, settings: Settings) -> None:
        engine = db.make_engine(settings.effective_database_url)
        repositories = RepositoryAccess(
            settings=settings,
            branches=BranchCache(),
            secrets=SecretBox.from_settings(settings.data_dir, settings.secret_key),
        )
        self.engine = WorkerEngine(
            settings=settings,
            engine=engine,
            bus=make_bus(settings.redis_url, settings.redis_prefix),
            repositories=repositories,
            instance_id=new_instance_id(),
        )
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name='runboard-worker-loop', daemon=True).start()
        asyncio.run_coroutine_threadsafe(self.engine.start_worker(), self.loop).result(timeout=30)

    def execute(self, run_id: str) -> str | None:
        return asyncio.run_coroutine_threadsafe(self.engine.execute_by_id(run_id), self.loop).result()


def worker_app(settings: Settings) -> Celery:
    app = make_celery(settings)
    runtime: dict[str, WorkerRuntime] = {}
    guard = threading.Lock()

    @app.task(name=TASK)
    def execute_run(run_id: str) -> Any:
        with guard:
            if 'one' not in runtime:
                runtime['one'] = WorkerRuntime(settings)
        return runtime['one'].execute(run_id)

    return app


def run_worker(settings: Settings, *, slots: int, name: str | None = None) -> None:
    """Blocks: a Celery worker with `slots` threads, one run each."""
    app = worker_app(settings)
    argv = [
        'worker',
        '--pool=threads',
        f'--concurrency={slots}',
        '--loglevel=INFO',
        '--without-gossip',
        '--without-mingle',
    ]
    if name:
        argv.append(f'--hostname={name}')
    app.worker_main(argv)
