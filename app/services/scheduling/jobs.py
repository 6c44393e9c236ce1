"""APScheduler jobs: reaper safety poll, worktree cleanup, remote mirror fetches (and the AFK sweep, when
present)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlmodel import Session, select

from app.infra.db import session_scope
from app.models import Project
from app.services.artifacts import retention
from app.services.repositories import gitops
from app.services.runs import sql as run_sql

if TYPE_CHECKING:
    from app.container import Services


def cleanup_worktrees(services: Services) -> list[Path]:
    with session_scope(services.engine) as session:
        active = set(run_sql.active_run_ids(session.connection()))
    return gitops.remove_stale_worktrees(
        services.settings.worktrees_dir,
        older_than_seconds=services.settings.worktree_retention_days * 86400,
        keep=active,
    )


def sweep_artifacts(services: Services) -> int:
    """Expired artifacts leave the store and the table (docs/artifacts.md); staging folders runs left behind go."""
    removed = retention.sweep(services.engine, services.artifact_store, days=services.settings.artifact_retention_days)
    with session_scope(services.engine) as session:
        active = set(run_sql.active_run_ids(session.connection()))
    services.runner.artifacts.tidy(active)
    return removed


def start(services: Services) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler()
    job = dict(max_instances=1, coalesce=True, replace_existing=True)

    async def safety_poll() -> None:
        await asyncio.to_thread(services.runner.safety_poll)

    async def cleanup() -> None:
        await asyncio.to_thread(cleanup_worktrees, services)

    async def end_runs_with_pull_requests() -> None:
        await services.runner.end_runs_with_pull_requests()

    scheduler.add_job(safety_poll, 'interval', seconds=services.settings.reaper_poll_seconds, id='reaper', **job)
    if services.runner.pull_requests.probe is not None:  # AFK on a forge: a PR ends its live run as success
        scheduler.add_job(
            end_runs_with_pull_requests,
            'interval',
            seconds=services.settings.reaper_poll_seconds,
            id='pull-request-probe',
            **job,
        )
    scheduler.add_job(cleanup, 'interval', hours=1, id='worktree-cleanup', **job)

    async def artifact_retention() -> None:
        await asyncio.to_thread(sweep_artifacts, services)

    scheduler.add_job(artifact_retention, 'interval', hours=1, id='artifact-retention', **job)

    async def fetch_mirrors() -> None:
        await asyncio.to_thread(refresh_remote_mirrors, services)

    # remote projects' mirrors: fetched on a schedule, jittered so several servers do not fetch in step
    interval = services.settings.mirror_fetch_seconds
    scheduler.add_job(fetch_mirrors, 'interval', seconds=interval, jitter=interval / 6, id='mirror-fetch', **job)
    for hook in services.scheduler_hooks:
        hook(scheduler)
    scheduler.start()
    return scheduler


def refresh_remote_mirrors(services: Services) -> dict[str, str | None]:
    with Session(services.engine) as session:
        rows = list(session.exec(select(Project)).all())
        for row in rows:
            session.expunge(row)
    return services.repositories.refresh_all(list(rows))
