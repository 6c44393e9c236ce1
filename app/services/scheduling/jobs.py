"""The housekeeping the scheduler runs on every server (app/container.py schedules it): stale worktrees,
expired artifacts and logs, deleted projects' run caches, gone workers, remote mirror fetches."""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from app.config import Settings
from app.core.errors import DomainError
from app.infra.db import session_scope
from app.models import Project
from app.services.artifacts import retention
from app.services.execution import caches, workers
from app.services.execution.engine import RunEngine
from app.services.repositories import gitops
from app.services.repositories.access import RepositoryAccess, is_remote
from app.services.runs import log_retention
from app.services.runs import sql as run_sql
from app.services.scheduling.periodic import OnePerKey

MIRROR_FETCHES_AT_ONCE = 4  # remote mirrors a server fetches at the same time


def cleanup_worktrees(engine: Engine, settings: Settings) -> list[Path]:
    with session_scope(engine) as session:
        active = set(run_sql.active_run_ids(session.connection()))
    return gitops.remove_stale_worktrees(
        settings.worktrees_dir,
        older_than_seconds=settings.worktree_retention_days * 86400,
        keep=active,
    )


def sweep_artifacts(engine: Engine, settings: Settings, runner: RunEngine) -> int:
    """Expired artifacts leave the store and the table (docs/artifacts.md); staging folders runs left behind go."""
    removed = retention.sweep(engine, runner.artifact_store, days=settings.artifact_retention_days)
    with session_scope(engine) as session:
        active = set(run_sql.active_run_ids(session.connection()))
    runner.artifacts.tidy(active)
    return removed


def tidy_caches(engine: Engine, settings: Settings) -> list[str]:
    """The run caches of projects deleted since (docs/pipelines.md, "Caches") leave this machine."""
    return caches.tidy(settings.caches_dir, caches.project_ids(engine))


def sweep_logs(engine: Engine, settings: Settings) -> int:
    """The output of runs that ended before the log retention leaves the database (docs/pipelines.md)."""
    return log_retention.sweep(engine, days=settings.log_retention_days)


def forget_gone_workers(engine: Engine, settings: Settings) -> int:
    """Workers stopped or lost for longer than the worker retention leave the table (services/execution/workers.py)."""
    return workers.sweep(
        engine, retention_days=settings.worker_retention_days, heartbeat_seconds=settings.heartbeat_seconds
    )


def refresh_remote_mirrors(engine: Engine, repositories: RepositoryAccess, fetching: OnePerKey) -> int:
    """Hand each remote project's mirror fetch to `fetching` (MIRROR_FETCHES_AT_ONCE at a time), not waiting for
    them: a remote that does not answer holds its own fetch until git's timeout while the next passes fetch the
    others. Returns how many fetches began (one fetched within half the interval, by a run or another server, is
    not fetched again)."""
    with Session(engine) as session:
        rows = [row for row in session.exec(select(Project)).all() if is_remote(row.repository)]
        for row in rows:
            session.expunge(row)
    max_age = repositories.settings.mirror_fetch_seconds / 2
    return sum(fetching.submit(row.id, functools.partial(_fetch, repositories, row, max_age)) for row in rows)


def _fetch(repositories: RepositoryAccess, project: Project, max_age: float) -> None:
    with contextlib.suppress(DomainError):  # the mirror's state holds the error, for the project page
        repositories.refresh(project, max_age=max_age)
