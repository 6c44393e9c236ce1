"""Builds every service from Settings, starts them, and closes them again."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
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
from app.services.execution import deployment_checks
from app.services.execution.celery_app import make_celery
from app.services.execution.dispatch import Dispatcher, celery_sender
from app.services.execution.engine import RunEngine
from app.services.identity import accounts
from app.services.identity.failed_sign_ins import FailedSignIns
from app.services.identity.tokens import REVOKED_EVENT
from app.services.notifications.sender import Sender
from app.services.notifications.webhook_targets import TargetGuard, policy_of
from app.services.projects import demo
from app.services.repositories import forge, gitops
from app.services.repositories.access import RepositoryAccess
from app.services.repositories.commits import CommitTitles
from app.services.runs.admit import RunAdmitter
from app.services.runs.auto_retry import AutoRetry
from app.services.runs.ports import RateLimiter
from app.services.runs.ratelimit import make_limiter
from app.services.scheduling import jobs as housekeeping
from app.services.scheduling.periodic import OnePerKey, PeriodicJob, PeriodicJobs
from app.services.scheduling.timers import Timers
from app.services.triggers.push import PushTrigger
from app.services.triggers.statuses import CommitStatuses

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    engine: Engine
    bus: EventBus
    limiter: RateLimiter
    auth: accounts.TokenAuthenticator
    failed_sign_ins: FailedSignIns
    branches: gitops.BranchCache
    admitter: RunAdmitter
    runner: RunEngine
    repositories: RepositoryAccess
    afk: AfkLoop | None = None
    afk_actions: AfkActions | None = None
    push_trigger: PushTrigger | None = None  # runs on push and on pull requests (services/triggers/)
    commit_statuses: CommitStatuses | None = None
    loop: asyncio.AbstractEventLoop | None = None  # the event loop the services started on
    jobs: PeriodicJobs | None = None  # every periodic job of this instance, started with the scheduler
    local_token: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: bool = False  # every part of start() is up: /api/health/live answers 200 from then on

    @property
    def instance_id(self) -> str:
        return self.runner.instance_id

    @property
    def scheduler(self) -> AsyncIOScheduler | None:
        return self.jobs.scheduler if self.jobs is not None else None

    @property
    def commits(self) -> CommitTitles:
        """What the runs' commits are (title, author), read once from their repositories: the engine learns a run's
        as it checks it out, a read of the runs learns those it does not know yet."""
        return self.runner.commits

    @property
    def artifact_store(self) -> ArtifactStore:
        return self.runner.artifact_store

    async def start(self) -> None:
        """Every part, or StartupFailed naming the one that failed (the caller closes what did start)."""
        self.loop = asyncio.get_running_loop()
        with step(f'the event listener ({describe_redis(self.settings.redis_url)})'):
            await self.bus.start()
        self._auth_listener = asyncio.get_running_loop().create_task(self._forget_revoked_tokens())
        with step('the run engine'):
            await self.runner.start()
        with step('the scheduler'):
            self.periodic_jobs().start()
        self.started = True

    def sender(self) -> Sender:
        """A webhook sender of this instance (the sender loop's, or one Redeliver / Test uses at once)."""
        return Sender(
            engine=self.engine, settings=self.settings, secrets=self.repositories.secrets, instance_id=self.instance_id
        )

    def periodic_jobs(self) -> PeriodicJobs:
        """Every periodic job of this instance: the engine's safety nets, the housekeeping, and the jobs of the other
        parts (AFK sweep, schedules, delayed runs, push scans, senders)."""
        if self.jobs is not None:
            return self.jobs
        settings, runner, engine = self.settings, self.runner, self.engine
        poll, every = settings.reaper_poll_seconds, settings.mirror_fetch_seconds
        jitter = every / 6  # remote mirrors and the push scan that joins them: servers never fetch in step
        timers = Timers(engine=engine, settings=settings, admitter=self.admitter, bus=self.bus)
        fetching = OnePerKey('mirror-fetch', housekeeping.MIRROR_FETCHES_AT_ONCE)
        jobs = [
            PeriodicJob('reaper', poll, runner.safety_poll),
            PeriodicJob('worktree-cleanup', 3600, lambda: housekeeping.cleanup_worktrees(engine, settings)),
            PeriodicJob('artifact-retention', 3600, lambda: housekeeping.sweep_artifacts(engine, settings, runner)),
            PeriodicJob('log-retention', 3600, lambda: housekeeping.sweep_logs(engine, settings)),
            PeriodicJob('cache-tidy', 3600, lambda: housekeeping.tidy_caches(engine, settings)),
            PeriodicJob('worker-retention', 3600, lambda: housekeeping.forget_gone_workers(engine, settings)),
            # automatic retries (GitLab's retry:): a crashed run retried within seconds, on any server
            PeriodicJob('auto-retry', 2.0, AutoRetry(engine, self.admitter, self.bus.publish).sweep),
            PeriodicJob(
                'mirror-fetch',
                every,
                lambda: housekeeping.refresh_remote_mirrors(engine, self.repositories, fetching),
                jitter=jitter,
                on_stop=fetching.shutdown,
            ),
            self.sender().job(),  # signed webhooks (docs/notifications.md)
            *timers.jobs(),  # schedules, delayed runs, queued TTL (docs/triggers.md)
        ]
        if runner.pull_requests.probe is not None:  # AFK on a forge: a PR ends its live run as success
            jobs.append(PeriodicJob('pull-request-probe', poll, runner.end_runs_with_pull_requests))
        if self.push_trigger is not None:
            jobs.append(self.push_trigger.job(every, jitter))
            # (a team server has path projects only where the deployment allows them)
            if settings.push_scan_local_seconds > 0 and (
                not settings.is_team_mode or settings.allow_local_repositories
            ):
                jobs.append(self.push_trigger.local_job(settings.push_scan_local_seconds))
            jobs.append(self.push_trigger.waiting_pull_requests_job())
        if self.afk is not None:
            jobs.append(self.afk.job)
        if self.commit_statuses is not None:
            jobs.append(self.commit_statuses.job())
        self.jobs = PeriodicJobs(self.bus, jobs)
        return self.jobs

    def not_started(self) -> dict[str, str | None]:
        """What start-up brought up that is not running now (None: running), for /api/health/ready."""
        scheduling = self.jobs is not None and self.jobs.running
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
        if self.jobs is not None:
            self.jobs.stop()
        if self.afk is not None:
            self.afk.close()
        await self.runner.close()
        await self.admitter.aclose()
        self.repositories.close()
        await self.bus.close()
        self.limiter.close()
        self.engine.dispose()


def build_services(settings: Settings, *, migrate: bool = True, seed: bool = True) -> Services:
    """Every service, not started yet; or StartupFailed naming the step that failed."""
    with step(f'the data directory {settings.data_dir}'):
        settings.private_data_dir()
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
    if not settings.makes_local_account:
        if not accounts.anyone_exists(engine):
            log.warning(
                'Nobody can sign in yet: make the first administrator with `runboard users add NAME --team TEAM '
                '--role operator --admin` on a machine with this database (docs/team.md)'
            )
        return
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
    forge.guard = TargetGuard(policy_of(settings))  # forge APIs go where webhooks may (docs/security.md)
    branches = gitops.BranchCache()
    repositories = RepositoryAccess(settings=settings, branches=branches, secrets=secrets)
    services = Services(
        settings=settings,
        engine=engine,
        bus=bus,
        limiter=limiter,
        auth=accounts.TokenAuthenticator(engine),
        failed_sign_ins=FailedSignIns(settings.failed_sign_ins_per_minute),
        branches=branches,
        admitter=RunAdmitter(engine=engine, settings=settings, limiter=limiter, repositories=repositories, bus=bus),
        runner=RunEngine(settings=settings, engine=engine, bus=bus, repositories=repositories),
        repositories=repositories,
    )
    if settings.executor == 'celery':
        for warning in deployment_checks.server_warnings(settings):  # what its workers must share with it
            log.warning(warning)
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
    services.push_trigger = _push_trigger(services)  # pushes and pull requests start runs (docs/triggers.md)
    # and their results go back to the forge
    services.commit_statuses = CommitStatuses(engine=engine, settings=settings, secrets=repositories.secrets)
    return services


def describe_redis(url: str | None) -> str:
    """Which Redis a start-up step uses, for its failure line (password masked)."""
    return f'Redis at {db.masked(url)}' if url else 'in-process'


def _wire_afk(services: Services) -> None:
    """The AFK loop: a kick when a run ends, the PR probe for forge runs (which also writes the PR on the run)."""
    settings = services.settings
    lease = None
    if settings.redis_url:
        lease = SweepLease(settings.redis_url, settings.redis_prefix, ttl_seconds=max(30.0, settings.afk_sweep_seconds))
    loop = AfkLoop(engine=services.engine, settings=settings, admitter=services.admitter, bus=services.bus, lease=lease)
    services.afk = loop
    services.afk_actions = AfkActions(engine=services.engine, bus=services.bus, loop=loop)
    services.admitter.retry_afk_run = services.afk_actions.retry_run
    services.runner.on_run_finished.append(lambda project_id, status: loop.kick())
    services.runner.pull_requests.probe = review.recording_probe(services.engine)


def _push_trigger(services: Services) -> PushTrigger:
    """The push trigger; its scan is a periodic job (Services.periodic_jobs)."""

    def request_stop(run_id: str) -> None:
        """The engine's stop, on its event loop (a webhook and a scan run in threads)."""
        if services.loop is not None:
            services.loop.call_soon_threadsafe(services.runner.request_stop, run_id)

    def sweep_afk_now() -> None:
        """A forge issue changed (its webhook, in a thread): the AFK loop sweeps now, on its event loop."""
        if services.loop is not None and services.afk is not None:
            services.loop.call_soon_threadsafe(services.afk.kick)

    return PushTrigger(
        engine=services.engine,
        settings=services.settings,
        admitter=services.admitter,
        repositories=services.repositories,
        bus=services.bus,
        secrets=services.repositories.secrets,
        request_stop=request_stop,
        on_issues_changed=sweep_afk_now,
    )
