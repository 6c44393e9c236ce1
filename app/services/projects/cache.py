"""Projects, briefly cached: the trigger path reads one per request. A stale entry is harmless: the
admitting transaction re-checks the project's repository (run_writer.StaleProject) and reloads it."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine
from sqlmodel import Session

from app.core.errors import not_found
from app.infra import no_wait
from app.models import Project
from app.services.identity.accounts import Principal
from app.services.projects import manage as projects

PROJECT_CACHE_SECONDS = 2.0
MAX_CACHED = 10_000


class ProjectCache:
    def __init__(self, reader: Engine) -> None:
        self.reader = reader
        self._projects: dict[str, tuple[float, Project]] = {}
        self._refreshing: set[str] = set()
        self._guard = threading.Lock()

    def get(self, project_id: str, principal: Principal) -> Project:
        now = time.monotonic()
        hit = self._projects.get(project_id)
        if hit is not None and now - hit[0] <= PROJECT_CACHE_SECONDS:
            project = hit[1]
        elif hit is not None and no_wait.active():
            # on the loop: one thread reads it again meanwhile, and this admission takes the entry it has (older
            # than the TTL by that one read's time), so every admission on the loop does not hand over at once
            self._refresh_in_background(project_id)
            project = hit[1]
        else:
            no_wait.refuse()  # a database read through the pool
            project = self._load(project_id, now)
        if not projects.visible(project, principal):
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

    def _refresh_in_background(self, project_id: str) -> None:
        with self._guard:
            if project_id in self._refreshing:
                return
            self._refreshing.add(project_id)

        def refresh() -> None:
            try:
                self._load(project_id, time.monotonic())
            except Exception:  # gone or unreadable: the next admission reads it itself
                self._projects.pop(project_id, None)
            finally:
                with self._guard:
                    self._refreshing.discard(project_id)

        threading.Thread(target=refresh, name='project-cache', daemon=True).start()

    def forget(self, project_id: str) -> None:
        self._projects.pop(project_id, None)
