"""SQLModel tables and API schemas (Base / Table / Create / Public families)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from pydantic import ConfigDict, field_validator
from sqlalchemy import JSON, Column, Index, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | str | None) -> datetime | None:
    """Every stored time is UTC; SQLite hands some back naive, raw SQL may hand back ISO text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Role(str, Enum):
    builder = 'builder'
    operator = 'operator'


class RunStatus(str, Enum):
    queued = 'queued'
    running = 'running'
    succeeded = 'succeeded'
    failed = 'failed'
    timed_out = 'timed_out'
    crashed = 'crashed'
    stopped = 'stopped'


ACTIVE_STATUSES = (RunStatus.queued.value, RunStatus.running.value)
TERMINAL_STATUSES = tuple(s.value for s in RunStatus if s.value not in ACTIVE_STATUSES)
RETRYABLE_STATUSES = ('failed', 'timed_out', 'crashed', 'stopped')
ACTIVE_SQL = "status IN ('queued', 'running')"  # the exact predicate of the partial unique indexes
# Runs the AFK loop launched itself (no person behind them); hand-started AFK runs carry their user.
LOOP_RUN_SQL = "kind = 'auto' AND user_id IS NULL"
_ACTIVE_AUTO_SQL = f'{LOOP_RUN_SQL} AND {ACTIVE_SQL}'


class RunKind(str, Enum):
    manual = 'manual'
    retry = 'retry'
    auto = 'auto'


class EventType(str, Enum):
    status = 'status'
    output = 'output'
    stage = 'stage'


# ---------------------------------------------------------------- people
class Team(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str


class User(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    role: str = Field(default=Role.builder.value)
    created_at: datetime = Field(default_factory=utcnow)


class TeamMember(SQLModel, table=True):
    team_id: str = Field(foreign_key='team.id', primary_key=True)
    user_id: str = Field(foreign_key='user.id', primary_key=True)


class ApiToken(SQLModel, table=True):
    id: str = Field(primary_key=True)
    user_id: str = Field(foreign_key='user.id', index=True)
    token_hash: str = Field(unique=True)
    name: str = 'default'
    created_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- projects
DEFAULT_DEPTH_LEVELS = ['shallow', 'standard', 'deep']
DEFAULT_FRAMEWORKS = ['python', 'node', 'go']


class ProjectBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    repository: str = Field(min_length=1, max_length=1000)
    base_branch: str = Field(default='main', min_length=1, max_length=250)
    command: list[str] = Field(sa_column=Column(JSON, nullable=False))
    depth_levels: list[str] = Field(
        default_factory=lambda: list(DEFAULT_DEPTH_LEVELS), sa_column=Column(JSON, nullable=False)
    )
    target_frameworks: list[str] = Field(
        default_factory=lambda: list(DEFAULT_FRAMEWORKS), sa_column=Column(JSON, nullable=False)
    )
    max_concurrent_runs: int = Field(default=2, ge=1, le=100_000)
    run_budget_seconds: int | None = Field(default=None, ge=1)
    issue_source: dict[str, Any] = Field(
        default_factory=lambda: {'kind': 'local'}, sa_column=Column(JSON, nullable=False)
    )


class Project(ProjectBase, table=True):
    id: str = Field(primary_key=True)
    team_id: str = Field(foreign_key='team.id', index=True)
    repository_key: str = Field(index=True)  # team + normalised repository: the scope of locks and slots
    auto_enabled: bool = False
    consecutive_failures: int = 0
    launch_error: str | None = Field(default=None, max_length=500)  # the last AFK launch that could not start
    launch_error_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- runs
class Run(SQLModel, table=True):
    __table_args__ = (
        # PR lock: one active run per (repository, branch), enforced by the database.
        Index(
            'uq_run_active_branch',
            'repository_key',
            'branch_name',
            unique=True,
            sqlite_where=text(ACTIVE_SQL),
            postgresql_where=text(ACTIVE_SQL),
        ),
        # Repository concurrency: each active run holds one numbered slot below the limit.
        Index(
            'uq_run_active_slot',
            'repository_key',
            'slot',
            unique=True,
            sqlite_where=text(ACTIVE_SQL),
            postgresql_where=text(ACTIVE_SQL),
        ),
        # The AFK loop is serial per project: at most one active loop run, whichever server launched it.
        # Hand-started AFK runs are additive (bounded by the global cap and by issue claims).
        Index(
            'uq_run_active_auto',
            'project_id',
            unique=True,
            sqlite_where=text(_ACTIVE_AUTO_SQL),
            postgresql_where=text(_ACTIVE_AUTO_SQL),
        ),
        Index('ix_run_status_created', 'status', 'created_at'),
        Index('ix_run_project_created', 'project_id', 'created_at'),
    )
    id: str = Field(primary_key=True)
    project_id: str = Field(foreign_key='project.id')
    repository_key: str
    kind: str = RunKind.manual.value
    status: str = RunStatus.queued.value
    depth_level: str
    target_framework: str
    branch_name: str
    checkout_ref: str  # what the worktree checks out (the branch, or the base branch for AFK runs)
    user_id: str | None = Field(default=None, foreign_key='user.id')
    idempotency_key: str | None = None
    payload_fingerprint: str | None = None
    retry_of: str | None = Field(default=None, foreign_key='run.id')
    issue_number: int | None = None
    issue_title: str | None = None
    issue_body: str | None = None  # AFK: handed to the command as RUNBOARD_ISSUE_BODY
    slot: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    budget_seconds: int
    deadline_at: datetime | None = None
    heartbeat_at: datetime | None = None
    owner_instance: str | None = None
    pid: int | None = None
    exit_code: int | None = None
    error: str | None = None
    correlation_id: str | None = None
    stop_requested_at: datetime | None = None
    stop_requested_by: str | None = None
    worktree_path: str | None = None
    last_seq: int = 0
    output_lines: int = 0


class RunEvent(SQLModel, table=True):
    run_id: str = Field(foreign_key='run.id', primary_key=True)
    seq: int = Field(primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    type: str
    text: str


class IdempotencyKey(SQLModel, table=True):
    """Scope user + key. The primary key makes a second concurrent insert fail, on any server."""

    user_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    fingerprint: str
    run_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime


# ---------------------------------------------------------------- AFK backlog
class Issue(SQLModel, table=True):
    """Local backlog: the embedded issue source."""

    project_id: str = Field(foreign_key='project.id', primary_key=True)
    number: int = Field(primary_key=True)
    title: str
    body: str = ''
    labels: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    state: str = 'open'
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


_UNFINISHED_CLAIM_SQL = "state IN ('active', 'parked')"


class IssueClaim(SQLModel, table=True):
    __table_args__ = (
        Index(
            'uq_claim_unfinished',
            'project_id',
            'issue_number',
            unique=True,
            sqlite_where=text(_UNFINISHED_CLAIM_SQL),
            postgresql_where=text(_UNFINISHED_CLAIM_SQL),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    project_id: str = Field(foreign_key='project.id', index=True)
    issue_number: int
    issue_title: str = ''
    run_id: str | None = None
    state: str = 'active'  # active -> done | parked -> (requeued: discarded row) | discarded
    cause: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- API schemas
_SLUG = re.compile(r'[a-z0-9][a-z0-9-]*[a-z0-9]')


def _check_argv(argv: list[str]) -> list[str]:
    if not argv or not all(isinstance(a, str) and a for a in argv):
        raise ValueError('must be a non-empty list of non-empty strings (an argv list, not a shell line)')
    return argv


def _check_choices(values: list[str]) -> list[str]:
    if not values or not all(isinstance(v, str) and v.strip() for v in values) or len(set(values)) != len(values):
        raise ValueError('must be a non-empty list of distinct, non-empty names')
    return values


class ProjectCreate(ProjectBase):
    model_config = ConfigDict(extra='forbid')
    id: str = Field(min_length=2, max_length=64)
    team_id: str | None = None

    @field_validator('id')
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.fullmatch(value):
            raise ValueError('must be a slug: lowercase letters, digits and inner dashes')
        return value

    _command = field_validator('command')(classmethod(lambda cls, v: _check_argv(v)))
    _depths = field_validator('depth_levels', 'target_frameworks')(classmethod(lambda cls, v: _check_choices(v)))


class ProjectUpdate(SQLModel):
    model_config = ConfigDict(extra='forbid')
    name: str | None = Field(default=None, min_length=1, max_length=200)
    repository: str | None = Field(default=None, min_length=1, max_length=1000)
    base_branch: str | None = Field(default=None, min_length=1, max_length=250)
    command: list[str] | None = None
    depth_levels: list[str] | None = None
    target_frameworks: list[str] | None = None
    max_concurrent_runs: int | None = Field(default=None, ge=1, le=100_000)
    run_budget_seconds: int | None = Field(default=None, ge=1)
    issue_source: dict[str, Any] | None = None

    _command = field_validator('command')(classmethod(lambda cls, v: v if v is None else _check_argv(v)))
    _depths = field_validator('depth_levels', 'target_frameworks')(
        classmethod(lambda cls, v: v if v is None else _check_choices(v))
    )


class ProjectPublic(ProjectBase):
    id: str
    team_id: str
    repository_key: str
    auto_enabled: bool
    consecutive_failures: int
    launch_error: str | None = None
    launch_error_at: datetime | None = None
    paused: bool = False
    ready_count: int | None = None
    parked_count: int = 0
    active_runs: int = 0
    created_at: datetime
    updated_at: datetime


class RunCreate(SQLModel):
    model_config = ConfigDict(extra='forbid')
    project_id: str = Field(min_length=1, max_length=64)
    depth_level: str = Field(min_length=1, max_length=64)
    target_framework: str = Field(min_length=1, max_length=64)
    branch: str = Field(min_length=1, max_length=250)
    x_idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)


class RunRetry(SQLModel):
    model_config = ConfigDict(extra='forbid')
    depth_level: str | None = Field(default=None, min_length=1, max_length=64)
    target_framework: str | None = Field(default=None, min_length=1, max_length=64)
    branch: str | None = Field(default=None, min_length=1, max_length=250)
    x_idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)


class RunEventPublic(SQLModel):
    seq: int
    at: datetime
    type: str
    text: str

    _utc = field_validator('at')(classmethod(lambda cls, v: as_utc(v)))


class RunPublic(SQLModel):
    id: str
    project_id: str
    kind: str
    status: str
    depth_level: str
    target_framework: str
    branch_name: str
    user_id: str | None
    user_name: str | None = None
    idempotency_key: str | None
    retry_of: str | None
    issue_number: int | None
    issue_title: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime | None
    heartbeat_at: datetime | None
    exit_code: int | None
    error: str | None
    correlation_id: str | None
    output_lines: int
    last_seq: int

    _utc = field_validator('created_at', 'started_at', 'finished_at', 'deadline_at', 'heartbeat_at')(
        classmethod(lambda cls, v: as_utc(v))
    )


class RunDetail(RunPublic):
    events: list[RunEventPublic] = []
