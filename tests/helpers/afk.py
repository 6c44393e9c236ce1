"""A Runboard world for AFK tests: services built on the test's backend but not started, with
helpers to add projects and issues, list auto runs and reap them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from app.container import Services
from app.models import ProjectCreate, Role, RunStatus
from app.services.afk import backlog as local
from app.services.afk import project_view as view
from app.services.execution import reaper
from app.services.identity import accounts
from app.services.projects import manage
from tests.helpers.repos import make_repo

READY = ['ready-for-agent']


@dataclass
class World:
    services: Services
    principal: accounts.Principal
    repo: Path

    @property
    def engine(self):  # noqa: ANN201
        return self.services.engine

    @property
    def loop(self):  # noqa: ANN201
        return self.services.afk

    @property
    def actions(self):  # noqa: ANN201
        return self.services.afk_actions

    def project(self, project_id: str, *, auto: bool = True, issues: int = 0, failures: int = 0, **fields) -> str:  # noqa: ANN003
        repo = (
            make_repo(self.repo.parent / f'repo-{project_id}', {'main': {'run.sh': '#!/bin/sh\nexit 1\n'}})
            if not (self.repo.parent / f'repo-{project_id}').exists()
            else self.repo.parent / f'repo-{project_id}'
        )
        body = {
            'id': project_id,
            'name': project_id,
            'repository': str(repo),
            'command': ['sh', 'run.sh'],
            'max_concurrent_runs': 1,
            **fields,
        }
        manage.create_project(self.engine, self.principal, ProjectCreate(**body))
        from sqlalchemy import text

        from app.infra.db import session_scope

        with session_scope(self.engine) as session:
            session.connection().execute(
                text('UPDATE project SET auto_enabled = :a, consecutive_failures = :f WHERE id = :p'),
                {'a': auto, 'f': failures, 'p': project_id},
            )
        for n in range(issues):
            self.issue(project_id, f'task {n + 1}')
        return project_id

    def issue(self, project_id: str, title: str, *, labels: list[str] | None = None, body: str = '') -> int:
        return local.create_issue(
            self.engine, project_id, title=title, body=body, labels=READY if labels is None else labels
        ).number

    def get(self, project_id: str):  # noqa: ANN201
        return view.get_project(self.engine, self.principal, project_id)

    def active_auto_runs(self, project_id: str | None = None) -> list[dict]:
        from sqlalchemy import text

        sql = (
            "SELECT id, project_id, issue_number, branch_name FROM run WHERE kind = 'auto' "
            "AND status IN ('queued', 'running')"
        )
        params = {}
        if project_id:
            sql += ' AND project_id = :p'
            params['p'] = project_id
        with Session(self.engine) as session:
            return [dict(r._mapping) for r in session.connection().execute(text(sql + ' ORDER BY id'), params)]

    def reap(self, run_id: str, status: RunStatus, error: str | None = None) -> dict | None:
        return reaper.finish_run(
            self.engine,
            run_id=run_id,
            status=status,
            exit_code=1 if status == RunStatus.failed else 0 if status == RunStatus.succeeded else None,
            error=error,
        )


def close_services(services: Services) -> None:
    services.afk.close()
    services.limiter.close()
    services.engine.dispose()


def builder_principal(world: World) -> accounts.Principal:
    user, token = accounts.create_user(world.engine, name='bob', role=Role.builder, team_ids=[accounts.LOCAL_TEAM])
    return world.services.auth.authenticate(token)
