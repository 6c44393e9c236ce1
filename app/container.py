"""Builds every service from Settings, starts them, and closes them again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from sqlalchemy import Engine

from app.config import Settings
from app.core.startup import step
from app.infra import db
from app.infra.events import EventBus, make_bus, of_types
from app.infra.secret_box import SecretBox
from app.services.artifacts.store import ArtifactStore
from app.services.execution import RunEngine
from app.services.identity import accounts
from app.services.repositories import gitops
from app.services.repositories.access import RepositoryAccess
from app.services.runs.admit import RunAdmitter
from app.services.runs.ports import RateLimiter
from app.services.runs.ratelimit import make_limiter

if TYPE_CHECKING:
    from app.services.afk.actions import AfkActions
    from app.services.afk.loop import AfkLoop
    from app.services.triggers.push import PushTrigger
    from app.services.triggers.statuses import CommitStatuses


@dataclass
class Services:
    settings: Settings
    engine: Engine
    bus: EventBus
    limiter: RateLimiter
    auth: accounts.TokenAuthenticator
    branches: gitops.BranchCache
    admitter: RunAdmitter
    runner: RunEngine
    repositories: RepositoryAccess
    afk: AfkLoop | None = None
    afk_actions: AfkActions | None = None
    push_trigger: PushTrigger | None = None  # runs on push and on pull requests (services/triggers/)
    commit_statuses: CommitStatuses | None = None
    scheduler: AsyncIOScheduler | None = None
    scheduler_hooks: list[Callable[[AsyncIOScheduler], None]] = field(default_factory=list)  # jobs of other services
    local_token: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: bool = False  # every part of start() is up: /api/health/live answers 200 from then on

    @property
    def instance_id(self) -> str:
        return self.runner.instance_id

    @property
    def artifact_store(self) -> ArtifactStore:
        return self.runner.artifact_store

    async def start(self) -> None:
        """Every part, or StartupFailed naming the one that failed (the caller closes what did start)."""
        with step(f'the event listener ({describe_redis(self.settings.redis_url)})'):
            await self.bus.start()
        self._auth_listener = asyncio.get_running_loop().create_task(self._forget_revoked_tokens())
        with step('the run engine'):
            await self.runner.start()
        from app.services.scheduling import jobs as scheduler

        with step('the scheduler'):
            self.scheduler = scheduler.start(self)
        self.started = True

    def not_started(self) -> dict[str, str | None]:
        """What start-up brought up that is not running now (None: running), for /api/health/ready."""
        scheduling = self.scheduler is not None and self.scheduler.state == STATE_RUNNING
        return {'event_listener': self.bus.listener_failure(), 'scheduler': None if scheduling else 'not running'}

    async def _forget_revoked_tokens(self) -> None:
        """A token revoked on any instance stops working here at once (the bus carries the revocation)."""
        from app.services.identity.tokens import REVOKED_EVENT

        queue = self.bus.subscribe(of_types(REVOKED_EVENT))
        try:
            while True:
                event = await queue.get()
                if event.get('type') == REVOKED_EVENT:
                    self.auth.forget(list(event.get('digests') or []))
        finally:
            self.bus.unsubscribe(queue)

    async def close(self) -> None:
        """Closes what started; also after a start that failed part of the way."""
        self.started = False
        if getattr(self, '_auth_listener', None) is not None:
            self._auth_listener.cancel()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.afk is not None:
            self.afk.close()
        await self.runner.close()
        await self.admitter.aclose()
        await self.bus.close()
        self.limiter.close()
        self.engine.dispose()


def build_services(settings: Settings, *, migrate: bool = True, seed: bool = True) -> Services:
    """Every service, not started yet; or StartupFailed naming the step that failed."""
    with step(f'the data directory {settings.data_dir}'):
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # its owner's alone (docs/security.md)
    with step(f'the database {db.masked(settings.effective_database_url)}'):
        engine = db.make_engine(settings.effective_database_url)
    try:
        # instances that start together on one database migrate and seed one after the other (the lock is
        # PostgreSQL's; the seeding's inserts are idempotent on any database)
        with step('building the services'), db.startup_lock(engine):
            if migrate:
                with step('the database migration'):
                    db.migrate(engine)
            services = _build(settings, engine)
            if seed:
                _seed(services)
    except BaseException:
        engine.dispose()
        raise
    return services


def _seed(services: Services) -> None:
    """What a first start creates; each step leaves what another instance made as it is."""
    settings, engine = services.settings, services.engine
    with step('the local account'):
        services.local_token = accounts.ensure_local_account(engine, settings.credentials_path)
    if settings.demo:
        from app.services.projects import demo

        with step('the demo project'):
            demo.ensure_demo_project(engine, settings.data_dir)


def _build(settings: Settings, engine: Engine) -> Services:
    with step('the secret box'):
        secrets = SecretBox.from_settings(settings.data_dir, settings.secret_key)
    with step(f'the event bus ({describe_redis(settings.redis_url)})'):
        bus = make_bus(settings.redis_url, settings.redis_prefix)
    with step(f'the rate limiter ({describe_redis(settings.redis_url)})'):
        limiter = make_limiter(settings.redis_url, settings.rate_limit_runs, settings.rate_limit_window_seconds)
    branches = gitops.BranchCache()
    repositories = RepositoryAccess(settings=settings, branches=branches, secrets=secrets)
    services = Services(
        settings=settings,
        engine=engine,
        bus=bus,
        limiter=limiter,
        auth=accounts.TokenAuthenticator(engine),
        branches=branches,
        admitter=RunAdmitter(engine=engine, settings=settings, limiter=limiter, repositories=repositories, bus=bus),
        runner=RunEngine(settings=settings, engine=engine, bus=bus, repositories=repositories),
        repositories=repositories,
    )
    if settings.executor == 'celery':
        from app.services.execution.celery_app import make_celery
        from app.services.execution.dispatch import Dispatcher, celery_sender

        with step('the Celery executor'):
            send = celery_sender(make_celery(settings))
        services.runner.dispatcher = Dispatcher(
            engine,
            again_seconds=settings.dispatch_again_seconds,
            heartbeat_seconds=settings.heartbeat_seconds,
            send=send,
            namespace=settings.redis_prefix,
        )
    from app.services.afk import loop as afk

    afk.install(services)  # AFK sweep job, kick on run end, PR probe
    from app.services.notifications import sender as notify_sender

    notify_sender.install(services)  # signed webhooks: the sender loop (docs/notifications.md)
    from app.services.scheduling import timers

    timers.install(services)  # schedules, delayed runs, queued TTL (docs/triggers.md)
    from app.services.triggers import push, statuses

    services.push_trigger = push.install(services)  # pushes and pull requests start runs (docs/triggers.md)
    services.commit_statuses = statuses.install(services)  # and their results go back to the forge
    return services


def describe_redis(url: str | None) -> str:
    """Which Redis a start-up step uses, for its failure line (password masked)."""
    return f'Redis at {db.masked(url)}' if url else 'in-process'
