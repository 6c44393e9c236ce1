"""Issues of a project as the API shows them, and which of them an AFK run may take next."""

from __future__ import annotations

from typing import Literal, NamedTuple

from pydantic import Field, field_validator
from sqlalchemy import Connection, Engine
from sqlmodel import Session, SQLModel

from app.core.errors import DomainError
from app.infra.db import session_scope
from app.models import Issue, Project
from app.services.afk import backlog as local
from app.services.afk import claims
from app.services.identity.accounts import Principal
from app.services.projects import visibility
from app.services.repositories import forge
from app.services.repositories.issue_sources import READY_LABEL, IssueRecord, is_forge


class ClaimPublic(SQLModel):
    state: str
    run_id: str | None
    cause: str | None


class IssuePublic(SQLModel):
    number: int
    title: str
    body: str
    labels: list[str]
    state: str
    ready: bool
    claim: ClaimPublic | None = None


def _check_labels(value: list[str] | None) -> list[str] | None:
    if value is None:
        return value
    if len(value) > 50 or not all(isinstance(v, str) and 0 < len(v.strip()) <= 100 for v in value):
        raise ValueError('must be at most 50 labels of 1-100 characters')
    return list(dict.fromkeys(v.strip() for v in value))


class IssueCreate(SQLModel):
    model_config = {'extra': 'forbid'}
    title: str = Field(min_length=1, max_length=300)
    body: str = Field(default='', max_length=32_000)
    labels: list[str] = Field(default_factory=list)

    _labels = field_validator('labels')(classmethod(lambda cls, v: _check_labels(v)))


class IssueUpdate(SQLModel):
    model_config = {'extra': 'forbid'}
    title: str | None = Field(default=None, min_length=1, max_length=300)
    body: str | None = Field(default=None, max_length=32_000)
    labels: list[str] | None = None
    state: Literal['open', 'closed'] | None = None

    _labels = field_validator('labels')(classmethod(lambda cls, v: _check_labels(v)))


# ------------------------------------------------------------------ readiness
def source_issues(session: Session, project: Project) -> list[IssueRecord]:
    """Open issues labelled ready-for-agent at the project's source (forge reads are cached briefly)."""
    if is_forge(project.issue_source):
        return forge.ready_issues(project.repository, project.issue_source, changed_at=project.issues_changed_at)
    return [
        local.record(issue)
        for issue in local.list_issues(session, project.id, state='open')
        if local.record(issue).labelled_ready
    ]


def source_issue(session: Session, project: Project, number: int) -> IssueRecord | None:
    """One issue as the loop would see it: a local one in any state; a forge one only while open and labelled
    ready-for-agent (the forge is read for those alone)."""
    if is_forge(project.issue_source):
        ready = forge.ready_issues(project.repository, project.issue_source, max_age=0)
        return next((issue for issue in ready if issue.number == number), None)
    issue = session.get(Issue, (project.id, number))
    return None if issue is None else local.record(issue)


def claimable(conn: Connection, project: Project, issues: list[IssueRecord]) -> list[IssueRecord]:
    blocked = claims.blocked_numbers(conn, [project.id]).get(project.id, set())
    return [issue for issue in issues if issue.labelled_ready and issue.number not in blocked]


def ready_issues(session: Session, project: Project) -> list[IssueRecord]:
    return claimable(session.connection(), project, source_issues(session, project))


def ready_count(session: Session, project: Project) -> int | None:
    """For the project card; None when a forge cannot tell right now."""
    try:
        return len(ready_issues(session, project))
    except DomainError:
        return None


# ------------------------------------------------------------------ API reads and writes
def _public(record: IssueRecord, claim: dict | None, blocked: bool) -> IssuePublic:
    return IssuePublic(
        number=record.number,
        title=record.title,
        body=record.body,
        labels=list(record.labels),
        state=record.state,
        ready=record.labelled_ready and not blocked,
        claim=ClaimPublic(**claim) if claim else None,
    )


def list_project_issues(engine: Engine, principal: Principal, project_id: str) -> list[IssuePublic]:
    with Session(engine) as session:
        project = visibility.get_visible(session, project_id, principal)
        conn = session.connection()
        if is_forge(project.issue_source):
            records = forge.ready_issues(project.repository, project.issue_source, max_age=0)
        else:
            records = [local.record(issue) for issue in local.list_issues(session, project.id)]
        latest = claims.latest_by_issue(conn, project.id)
        blocked = claims.blocked_numbers(conn, [project.id]).get(project.id, set())
        return [_public(r, latest.get(r.number), r.number in blocked) for r in records]


def _local_project(session: Session, project_id: str, principal: Principal) -> Project:
    project = visibility.get_visible(session, project_id, principal)
    if is_forge(project.issue_source):
        raise DomainError(
            409, 'issue_source_readonly', f'Project {project_id!r} takes its issues from a forge; edit them there.'
        )
    return project


def _one(engine: Engine, project_id: str, issue: Issue) -> IssuePublic:
    with Session(engine) as session:
        conn = session.connection()
        latest = claims.latest_by_issue(conn, project_id).get(issue.number)
        blocked = issue.number in claims.blocked_numbers(conn, [project_id]).get(project_id, set())
    return _public(local.record(issue), latest, blocked)


def create_issue(engine: Engine, principal: Principal, project_id: str, data: IssueCreate) -> IssuePublic:
    with Session(engine) as session:
        _local_project(session, project_id, principal)
    issue = local.create_issue(engine, project_id, title=data.title, body=data.body, labels=data.labels)
    return _one(engine, project_id, issue)


class IssueUpdated(NamedTuple):
    issue: IssuePublic
    withdrawn_run_id: str | None  # the AFK run working on it, to stop: the issue is no longer work
    withdrawn_because: str


def update_issue(engine: Engine, principal: Principal, project_id: str, number: int, data: IssueUpdate) -> IssueUpdated:
    with Session(engine) as session:
        _local_project(session, project_id, principal)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items()}
    nulls = [k for k, v in changes.items() if v is None]
    if nulls:
        raise DomainError(422, 'validation', f'{nulls[0]} cannot be null', field=nulls[0])
    issue, reopened = local.update_issue(engine, project_id, number, changes)
    withdrawn, because = None, ''
    with session_scope(engine) as session:
        if reopened:
            claims.release_finished(session.connection(), project_id, number)
        record = local.record(issue)
        if record.state == 'closed':
            claims.discard_parked_in(session.connection(), project_id, number)
        if not record.labelled_ready:
            said = 'closed' if record.state == 'closed' else f'no longer labelled {READY_LABEL}'
            because = f'issue #{number} was {said} by {principal.name}'
            withdrawn = claims.withdraw_active(session.connection(), project_id, number, because)
    return IssueUpdated(_one(engine, project_id, issue), withdrawn, because)
