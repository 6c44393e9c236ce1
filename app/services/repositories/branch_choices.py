"""The branches a person can pick for a run: a search over the project's repository, each marked with
the active run that holds its PR lock (if any), so the picker shows busy branches before Run is pressed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session

from app.core.errors import DomainError
from app.services.identity.accounts import Principal
from app.services.projects import visibility
from app.services.repositories import gitops
from app.services.repositories.access import RepositoryAccess
from app.services.runs import sql as run_sql


@dataclass(frozen=True)
class BranchChoice:
    branch: gitops.Branch
    is_base: bool
    busy_run_id: str | None


def branch_choices(
    engine: Engine, repositories: RepositoryAccess, principal: Principal, project_id: str, query: str, limit: int
) -> list[BranchChoice]:
    with Session(engine) as session:
        project = visibility.get_visible(session, project_id, principal)
        busy = run_sql.busy_branches(session.connection(), project.repository_key)
    unsupported = gitops.unsupported_reason(project.repository)
    if unsupported:
        raise DomainError(422, 'unsupported_repository', f'Runs cannot use this repository: {unsupported}.')
    found = repositories.search(project, query, limit, project.base_branch)
    return [BranchChoice(b, b.name == project.base_branch, busy.get(b.name)) for b in found]
