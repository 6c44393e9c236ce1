"""Reads of the push triggers' records for the API."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.core.errors import DomainError
from app.models import Project
from app.models.triggers import CommitStatus, CommitStatusPublic
from app.services.identity.accounts import Principal


def list_commit_statuses(
    engine: Engine, principal: Principal, project_id: str, *, run_id: str | None = None, limit: int = 100
) -> list[CommitStatusPublic]:
    with Session(engine) as session:
        project = session.get(Project, project_id)
        if project is None or project.team_id not in principal.team_ids:
            raise DomainError(404, 'not_found', f'No project {project_id!r}.')
        query = select(CommitStatus).where(col(CommitStatus.project_id) == project_id)
        if run_id:
            query = query.where(col(CommitStatus.run_id) == run_id)
        rows = session.exec(query.order_by(col(CommitStatus.id).desc()).limit(limit)).all()
        return [CommitStatusPublic.model_validate(row.model_dump()) for row in rows]
