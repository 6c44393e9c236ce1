"""The local backlog: issues kept in Runboard's own database, numbered per project."""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core.errors import DomainError, not_found
from app.infra.db import session_scope
from app.models import Issue, utcnow
from app.services.repositories.issue_sources import IssueRecord

NUMBER_ATTEMPTS = 10


def record(issue: Issue) -> IssueRecord:
    return IssueRecord(issue.number, issue.title, issue.body or '', tuple(issue.labels or ()), issue.state)


def list_issues(session: Session, project_id: str, *, state: str | None = None) -> list[Issue]:
    query = select(Issue).where(col(Issue.project_id) == project_id)
    if state:
        query = query.where(col(Issue.state) == state)
    return list(session.exec(query.order_by(col(Issue.number))).all())


def create_issue(
    engine: Engine, project_id: str, *, title: str, body: str = '', labels: list[str] | None = None
) -> Issue:
    """Next number per project; two writers racing for a number: the primary key decides, the loser retries."""
    for _ in range(NUMBER_ATTEMPTS):
        try:
            with session_scope(engine) as session:
                top = session.exec(select(func.max(Issue.number)).where(col(Issue.project_id) == project_id)).one()
                issue = Issue(
                    project_id=project_id, number=(top or 0) + 1, title=title, body=body, labels=list(labels or [])
                )
                session.add(issue)
            return issue
        except IntegrityError:
            continue
    raise DomainError(
        409,
        'conflict',
        'Could not number the new issue (too many concurrent writers); retry.',
        headers={'Retry-After': '1'},
    )


def update_issue(engine: Engine, project_id: str, number: int, changes: dict) -> tuple[Issue, bool]:
    """Apply changes; returns the issue and whether it was reopened (closed -> open)."""
    with session_scope(engine) as session:
        issue = session.get(Issue, (project_id, number))
        if issue is None:
            raise not_found(f'issue #{number}')
        reopened = issue.state == 'closed' and changes.get('state') == 'open'
        for key, value in changes.items():
            setattr(issue, key, list(value) if key == 'labels' else value)
        issue.updated_at = utcnow()
        session.add(issue)
    return issue, reopened
