"""Projects, briefly cached: the trigger path reads one per request. A stale entry is harmless: the
admitting transaction re-checks the project's repository (run_writer.StaleProject) and reloads it."""

from __future__ import annotations

import time

from sqlalchemy import Engine
from sqlmodel import Session

from app.core.errors import not_found
from app.models import Project
from app.services.identity.accounts import Principal
from app.services.projects import visibility

PROJECT_CACHE_SECONDS = 2.0
MAX_CACHED = 10_000


class ProjectCache:
    def __init__(self, reader: Engine) -> None:
        self.reader = reader
        self._projects: dict[str, tuple[float, Project]] = {}

    def get(self, project_id: str, principal: Principal) -> Project:
        now = time.monotonic()
        hit = self._projects.get(project_id)
        if hit is not None and now - hit[0] <= PROJECT_CACHE_SECONDS:
            project = hit[1]
        else:
            project = self._load(project_id, now)
        if not visibility.visible(project, principal):
            raise not_found(f'project {project_id!r}')  # never reveal that another team's project exists
        return project

    def _load(self, project_id: str, now: float) -> Project:
        with Session(self.reader) as session:
            project = session.get(Project, project_id)
            if project is not None:
                session.expunge(project)
        if project is None:
            self._projects.pop(project_id, None)
            raise not_found(f'project {project_id!r}')
        if len(self._projects) > MAX_CACHED:
            self._projects.clear()
        self._projects[project_id] = (now, project)
        return project

    def forget(self, project_id: str) -> None:
        self._projects.pop(project_id, None)
