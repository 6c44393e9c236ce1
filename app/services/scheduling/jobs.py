"""The housekeeping the scheduler runs on every server (app/container.py schedules it): stale worktrees,
expired artifacts, remote mirror fetches."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, select

from app.config import Settings
from app.infra.db import session_scope
from app.models import Project
from app.services.artifacts import retention
from app.services.execution.engine import RunEngine
from app.services.repositories import gitops
from app.services.repositories.access import RepositoryAccess
from app.services.runs import sql as run_sql


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


def refresh_remote_mirrors(engine: Engine, repositories: RepositoryAccess) -> dict[str, str | None]:
    with Session(engine) as session:
        rows = list(session.exec(select(Project)).all())
        for row in rows:
            session.expunge(row)
    return repositories.refresh_all(list(rows))
