"""Builds every service from Settings, starts them, and closes them again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine

from app import db
from app.config import Settings
from app.services import accounts, gitops
from app.services.engine import RunEngine
from app.services.events import EventBus, make_bus, of_types
from app.services.ports import RateLimiter
from app.services.ratelimit import make_limiter
from app.services.repositories import RepositoryAccess
from app.services.runs import RunAdmitter
from app.services.secret_box import SecretBox

if TYPE_CHECKING:
    from app.services.afk import AfkLoop
    from app.services.afk_actions import AfkActions


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
    scheduler: AsyncIOScheduler | None = None
    scheduler_hooks: list[Callable[[AsyncIOScheduler], None]] = field(default_factory=list)  # jobs of other services
    local_token: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def instance_id(self) -> str:
        return self.runner.instance_id

    async def start(self) -> None:
        await self.bus.start()
        self._auth_listener = asyncio.get_running_loop().create_task(self._forget_revoked_tokens())
        await self.runner.start()
        from app.services import scheduler

        self.scheduler = scheduler.start(self)

    async def _forget_revoked_tokens(self) -> None:
        """A token revoked on any instance stops working here at once (the bus carries the revocation)."""
        from app.services.tokens import REVOKED_EVENT

        queue = self.bus.subscribe(of_types(REVOKED_EVENT))
        try:
            while True:
                event = await queue.get()
                if event.get('type') == REVOKED_EVENT:
                    self.auth.forget(list(event.get('digests') or []))
        finally:
            self.bus.unsubscribe(queue)

    async def close(self) -> None:
        if getattr(self, '_auth_listener', None) is not None:
            self._auth_listener.cancel()
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        if self.afk is not None:
            self.afk.close()
        await self.runner.close()
        await self.admitter.aclose()
        await self.bus.close()
        self.limiter.close()
        self.engine.dispose()


def build_services(settings: Settings, *, migrate: bool = True, seed: bool = True) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.make_engine(settings.effective_database_url)
    if migrate:
        db.upgrade(engine)
    bus = make_bus(settings.redis_url, settings.redis_prefix)
    limiter = make_limiter(settings.redis_url, settings.rate_limit_runs, settings.rate_limit_window_seconds)
    branches = gitops.BranchCache()
    repositories = RepositoryAccess(
        settings=settings, branches=branches, secrets=SecretBox.from_settings(settings.data_dir, settings.secret_key)
    )
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
        from app.services.engine.celery_app import make_celery
        from app.services.engine.dispatch import Dispatcher, celery_sender

        send = celery_sender(make_celery(settings))
        services.runner.dispatcher = Dispatcher(
            engine,
            again_seconds=settings.dispatch_again_seconds,
            heartbeat_seconds=settings.heartbeat_seconds,
            send=send,
            namespace=settings.redis_prefix,
        )
    from app.services import afk

    afk.install(services)  # AFK sweep job, kick on run end, PR probe
    from app.services import notify_sender

    notify_sender.install(services)  # signed webhooks: the sender loop (docs/notifications.md)
    from app.services import timers

    timers.install(services)  # schedules, delayed runs, queued TTL (docs/triggers.md)
    if seed:
        services.local_token = accounts.ensure_local_account(engine, settings.credentials_path)
        if settings.demo:
            from app.services import demo

            demo.ensure_demo_project(engine, settings.data_dir)
    return services
