"""Who sees a project: the people of its team. Every read of anything under a project starts here, and a
project of another team answers exactly like one that does not exist."""

from __future__ import annotations

from sqlmodel import Session

from app.core.errors import not_found
from app.models import Project
from app.services.identity.accounts import Principal


def visible(project: Project | None, principal: Principal) -> bool:
    return project is not None and project.team_id in principal.team_ids


def get_visible(session: Session, project_id: str, principal: Principal) -> Project:
    project = session.get(Project, project_id)
    if project is None or not visible(project, principal):
        raise not_found(f'project {project_id!r}')  # never reveal that another team's project exists
    return project
