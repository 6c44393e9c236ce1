"""Builds every service from Settings, starts them, and closes them again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from sqlalchemy import Engine

from app.config import Settings
from app.core.startup import step
from app.infra import db
from app.infra.events import EventBus, make_bus, of_types
from app.infra.secret_box import SecretBox
from app.services.afk import review
from app.services.afk.actions import AfkActions
from app.services.afk.lease import SweepLease
from app.services.afk.loop import AfkLoop
from app.services.artifacts.store import ArtifactStore
from app.services.execution.celery_app import make_celery
from app.services.execution.dispatch import Dispatcher, celery_sender
from app.services.execution.engine import RunEngine
from app.services.identity import accounts
from app.services.identity.tokens import REVOKED_EVENT
from app.services.notifications.sender import Notifier, Sender
from app.services.projects import demo
from app.services.repositories import gitops
from app.services.repositories.access import RepositoryAccess
from app.services.runs.admit import RunAdmitter
from app.services.runs.ports import RateLimiter
from app.services.runs.ratelimit import make_limiter
from app.services.scheduling import jobs
from app.services.scheduling.timers import Timers
from app.services.triggers.push import PushTrigger
from app.services.triggers.statuses import CommitStatuses, StatusLoop


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
        with step('the scheduler'):
            self.scheduler = self._start_scheduler()
        self.started = True

    def sender(self) -> Sender:
        """A webhook sender of this instance (the sender loop's, or one Redeliver / Test uses at once)."""
        return Sender(
            engine=self.engine, settings=self.settings, secrets=self.repositories.secrets, instance_id=self.instance_id
        )

    def _start_scheduler(self) -> AsyncIOScheduler:
        """Every periodic job of this instance on one APScheduler: the housekeeping below and the jobs the other
        parts registered in scheduler_hooks (AFK sweep, schedules, delayed runs, push scans, senders)."""
        scheduler = AsyncIOScheduler()
        job = dict(max_instances=1, coalesce=True, replace_existing=True)
        settings, runner = self.settings, self.runner

        def in_thread(work: Callable[[], object]) -> Callable[[], Awaitable[object]]:
            async def run() -> object:
                return await asyncio.to_thread(work)

            return run

        scheduler.add_job(
            in_thread(runner.safety_poll), 'interval', seconds=settings.reaper_poll_seconds, id='reaper', **job
        )
        if runner.pull_requests.probe is not None:  # AFK on a forge: a PR ends its live run as success
            scheduler.add_job(
                runner.end_runs_with_pull_requests,
                'interval',
                seconds=settings.reaper_poll_seconds,
                id='pull-request-probe',
                **job,
            )
        cleanup = in_thread(lambda: jobs.cleanup_worktrees(self.engine, settings))
        scheduler.add_job(cleanup, 'interval', hours=1, id='worktree-cleanup', **job)
        retention = in_thread(lambda: jobs.sweep_artifacts(self.engine, settings, runner))
        scheduler.add_job(retention, 'interval', hours=1, id='artifact-retention', **job)
        # remote projects' mirrors: fetched on a schedule, jittered so several servers do not fetch in step
        fetch = in_thread(lambda: jobs.refresh_remote_mirrors(self.engine, self.repositories))
        interval = settings.mirror_fetch_seconds
        scheduler.add_job(fetch, 'interval', seconds=interval, jitter=interval / 6, id='mirror-fetch', **job)
        for hook in self.scheduler_hooks:
            hook(scheduler)
        scheduler.start()
        return scheduler

    def not_started(self) -> dict[str, str | None]:
        """What start-up brought up that is not running now (None: running), for /api/health/ready."""
        scheduling = self.scheduler is not None and self.scheduler.state == STATE_RUNNING
        return {'event_listener': self.bus.listener_failure(), 'scheduler': None if scheduling else 'not running'}

    async def _forget_revoked_tokens(self) -> None:
        """A token revoked on any instance stops working here at once (the bus carries the revocation)."""
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
        with step('the Celery executor'):
            send = celery_sender(make_celery(settings))
        services.runner.dispatcher = Dispatcher(
            engine,
            again_seconds=settings.dispatch_again_seconds,
            heartbeat_seconds=settings.heartbeat_seconds,
            send=send,
            namespace=settings.redis_prefix,
        )
    _wire_afk(services)  # AFK sweep job, kick on run end, PR probe
    _wire_notifications(services)  # signed webhooks: the sender loop (docs/notifications.md)
    timers = Timers(engine=engine, settings=settings, admitter=services.admitter, bus=bus)
    services.scheduler_hooks.append(timers.install)  # schedules, delayed runs, queued TTL (docs/triggers.md)
    services.push_trigger = _wire_push(services)  # pushes and pull requests start runs (docs/triggers.md)
    services.commit_statuses = _wire_commit_statuses(services)  # and their results go back to the forge
    return services


def describe_redis(url: str | None) -> str:
    """Which Redis a start-up step uses, for its failure line (password masked)."""
    return f'Redis at {db.masked(url)}' if url else 'in-process'


def _wire_afk(services: Services) -> None:
    """The AFK loop: its sweep job, a kick when a run ends, the PR probe for forge runs (which also writes the PR
    on the run)."""
    settings = services.settings
    lease = None
    if settings.redis_url:
        lease = SweepLease(settings.redis_url, settings.redis_prefix, ttl_seconds=max(30.0, settings.afk_sweep_seconds))
    loop = AfkLoop(engine=services.engine, settings=settings, admitter=services.admitter, bus=services.bus, lease=lease)
    services.afk = loop
    services.afk_actions = AfkActions(engine=services.engine, bus=services.bus, loop=loop)
    services.scheduler_hooks.append(loop.schedule.install)
    services.runner.on_run_finished.append(lambda project_id, status: loop.kick())
    services.runner.pull_requests.probe = review.recording_probe(services.engine)


def _wire_notifications(services: Services) -> None:
    """The sender loop starts with the scheduler and stops with it."""
    notifier = Notifier(services.sender(), services.bus)

    def hook(scheduler: AsyncIOScheduler) -> None:
        notifier.start()
        scheduler.add_listener(lambda _event: notifier.stop(), EVENT_SCHEDULER_SHUTDOWN)

    services.scheduler_hooks.append(hook)


def _wire_push(services: Services) -> PushTrigger:
    """The push trigger and its job: every RUNBOARD_MIRROR_FETCH_SECONDS (jittered, like the mirror fetch it
    joins) each project with push rules is fetched and scanned for moved heads."""
    loops: list[asyncio.AbstractEventLoop] = []

    def request_stop(run_id: str) -> None:
        """The engine's stop, on its event loop (a webhook and a scan run in threads)."""
        if loops:
            loops[0].call_soon_threadsafe(services.runner.request_stop, run_id)

    trigger = PushTrigger(
        engine=services.engine,
        settings=services.settings,
        admitter=services.admitter,
        repositories=services.repositories,
        bus=services.bus,
        secrets=services.repositories.secrets,
        request_stop=request_stop,
    )

    def hook(scheduler: AsyncIOScheduler) -> None:
        loops.append(asyncio.get_running_loop())  # the scheduler starts on the services' loop

        async def scan() -> None:
            await asyncio.to_thread(trigger.scan_all)

        interval = services.settings.mirror_fetch_seconds
        scheduler.add_job(
            scan,
            'interval',
            seconds=interval,
            jitter=interval / 6,
            id='push-scan',
            max_instances=1,
            coalesce=True,
            replace_existing=True,
        )

    services.scheduler_hooks.append(hook)
    return trigger


def _wire_commit_statuses(services: Services) -> CommitStatuses:
    statuses = CommitStatuses(engine=services.engine, settings=services.settings, secrets=services.repositories.secrets)
    loop = StatusLoop(statuses, services.bus)

    def hook(scheduler: AsyncIOScheduler) -> None:
        loop.start()
        scheduler.add_listener(lambda _event: loop.stop(), EVENT_SCHEDULER_SHUTDOWN)

    services.scheduler_hooks.append(hook)
    return statuses
