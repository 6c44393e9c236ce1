"""SQLModel tables (the database is the truth: see docs/architecture.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import field_validator
from sqlalchemy import JSON, BigInteger, Column, Index, text
from sqlalchemy import false as sa_false
from sqlmodel import Field, SQLModel

from app.models.triggers import check_patterns
from app.models.vocabulary import (
    ACTIVE_LOOP_RUN_SQL,
    ACTIVE_SQL,
    AUTO_RETRY_DEFAULT,
    AUTO_RETRY_STATUSES,
    Role,
    RunKind,
    RunStatus,
    utcnow,
)


# ---------------------------------------------------------------- people
class Team(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str


class User(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    role: str = Field(default=Role.builder.value)
    is_admin: bool = False  # a deployment administrator: may change what every team shares (workers)
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
    last_used_at: datetime | None = None  # to the minute (identity/accounts.py TokenAuthenticator)


# ---------------------------------------------------------------- projects
DEFAULT_DEPTH_LEVELS = ['shallow', 'standard', 'deep']
DEFAULT_FRAMEWORKS = ['python', 'node', 'go']


def check_protected_branches(values: list[str] | None) -> list[str] | None:
    """Globs as the push rules' branches; null (not []) means the base branch alone."""
    if values is None:
        return None
    patterns = check_patterns(values, 'branch')
    if not any(not pattern.startswith('!') for pattern in patterns):
        raise ValueError('give at least one pattern without "!" (null: the base branch alone)')
    return patterns


def check_auto_retry_on(values: list[str]) -> list[str]:
    if not values or len(set(values)) != len(values) or not set(values) <= set(AUTO_RETRY_STATUSES):
        raise ValueError(f'must be distinct statuses among {", ".join(AUTO_RETRY_STATUSES)}')
    return values


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
    # runner labels (like GitHub's runs-on): with executor=celery a run goes only to a worker holding all
    runs_on: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default='[]'))
    # a run still queued this long after it was queued ends `expired` (None: it waits for ever); a trigger's ttl wins
    queued_ttl_seconds: int | None = Field(default=None, ge=1, le=30 * 86400)
    # the run sandbox's network: 'default' (the host's) or 'none' (a private loopback only)
    network: str = Field(
        default='default', max_length=20, regex='^(default|none)$', sa_column_kwargs={'server_default': 'default'}
    )
    # the AFK loop launches nothing more on a UTC day whose AFK cost reached this (docs/afk.md, "Cost"); None: no cap
    afk_cost_cap_usd_per_day: float | None = Field(default=None, ge=0.01, le=1_000_000)
    # and an AFK run passing it while it runs is stopped (else it finishes: the cap decides launches)
    afk_cost_cap_stops_runs: bool = Field(default=False, sa_column_kwargs={'server_default': sa_false()})
    # its runs' output leaves the database this many days after they end, over RUNBOARD_LOG_RETENTION_DAYS (GitHub's
    # per-repository log retention; services/runs/log_retention.py); None: the server's
    log_retention_days: int | None = Field(default=None, ge=1, le=3650)
    # the memory limit of its runs in bytes, over RUNBOARD_RUN_MEMORY_MAX, up to RUNBOARD_RUN_MEMORY_MAX_ALLOWED
    # (GitLab's memory limit overwrite; services/execution/limits.py); None: the executor's
    run_memory_max: int | None = Field(default=None, ge=1024**2, sa_type=BigInteger)
    # and the CPU time of its runs as this many cores, over RUNBOARD_RUN_CPUS, up to RUNBOARD_RUN_CPUS_ALLOWED
    run_cpus: float | None = Field(default=None, ge=0.01, le=1024)
    # automatic retries (GitLab's `retry:`; services/runs/auto_retry.py): a run that ends in one of auto_retry_on is
    # retried by Runboard until it has run 1 + auto_retry times in all
    auto_retry: int = Field(default=0, ge=0, le=3, sa_column_kwargs={'server_default': '0'})
    auto_retry_on: list[str] = Field(
        default_factory=lambda: list(AUTO_RETRY_DEFAULT),
        sa_column=Column(JSON, nullable=False, server_default='["crashed", "timed_out"]'),
    )

    # protected branches (GitLab's): the branches whose runs receive the project's protected variables and secrets;
    # globs as the push rules' (`release/*`, `!release/old`); None: the base branch alone
    protected_branches: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # a run of a protected branch started by someone who is not an operator waits for an operator's approval (GitHub's
    # required reviewers of an environment; services/runs/approvals.py)
    approval_required: bool = Field(default=False, sa_column_kwargs={'server_default': sa_false()})

    @field_validator('auto_retry_on')
    @classmethod
    def _retry_on(cls, value: list[str]) -> list[str]:
        return check_auto_retry_on(value)

    @field_validator('protected_branches')
    @classmethod
    def _protected(cls, value: list[str] | None) -> list[str] | None:
        return check_protected_branches(value)


class Project(ProjectBase, table=True):
    id: str = Field(primary_key=True)
    team_id: str = Field(foreign_key='team.id', index=True)
    repository_key: str = Field(index=True)  # team + normalised repository: the scope of locks and slots
    auto_enabled: bool = False
    consecutive_failures: int = 0
    launch_error: str | None = Field(default=None, max_length=500)  # the last AFK launch that could not start
    launch_error_at: datetime | None = None
    afk_cost_capped_on: str | None = Field(default=None, max_length=10)  # the UTC day the cost cap was reached
    afk_cost_cap_reset_at: datetime | None = None  # Reset: the day's cost counts from here
    # git credentials for a remote repository; the secret is encrypted (infra/secret_box.py) and never
    # leaves the server: answers carry only has_credentials and the kind
    credentials_kind: str | None = Field(default=None, max_length=20)  # 'token' | 'ssh_key'
    credentials_username: str | None = Field(default=None, max_length=200)
    credentials_secret: str | None = None
    # push triggers (services/triggers/, docs/triggers.md): the rules (models/triggers.OnPush as JSON), who set them
    # (the runs they start are admitted as that person), and the forge webhook's secret, encrypted like credentials
    on_push: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    on_push_by: str | None = None
    hook_secret: str | None = None
    # the forge's webhook said an issue changed then (opened, labelled, closed...): ready issues read before are stale
    issues_changed_at: datetime | None = None
    badge_key: str | None = None  # the status and coverage badges' addresses carry it (services/projects/badges.py)
    # its run caches: a clear raises the generation, so every executor starts new, empty ones (execution/caches.py)
    cache_generation: int = Field(default=0, sa_column_kwargs={'server_default': '0'})
    caches_cleared_at: datetime | None = None
    auto_retry_since: datetime | None = None  # its automatic retries apply to runs made since (None: since ever)
    # 1 when made, one more at each edit of its settings that changes something (PATCH; not the AFK loop's or the
    # sweep's own bookkeeping): an edit names the version it read and is refused (409 edit_conflict) when another
    # changed the settings meanwhile (services/projects/manage.py)
    edit_version: int = Field(default=1, sa_column_kwargs={'server_default': '1'})
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ProjectVariable(SQLModel, table=True):
    """A name a project's runs receive in their environment: a plain variable, or a secret (its value a Fernet
    token, never answered, masked in output)."""

    __tablename__ = 'project_variable'
    project_id: str = Field(foreign_key='project.id', primary_key=True)
    name: str = Field(primary_key=True, max_length=100)
    secret: bool
    value: str
    # given only to runs of the project's protected branches (GitLab's protected variables; docs/security.md)
    protected: bool = Field(default=False, sa_column_kwargs={'server_default': sa_false()})
    set_by: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- runs
def partial_unique_index(name: str, *columns: str, where: str) -> Index:
    """Unique over the rows `where` selects, on SQLite and PostgreSQL alike: how the database decides races."""
    return Index(name, *columns, unique=True, sqlite_where=text(where), postgresql_where=text(where))


HAS_EXPIRY_SQL = 'expires_at IS NOT NULL'
LOG_KEPT_SQL = 'log_removed_at IS NULL AND finished_at IS NOT NULL'
IN_BATCH_SQL = 'batch_id IS NOT NULL'
BATCH_FIRST_ATTEMPT_SQL = 'batch_id IS NOT NULL AND retry_of IS NULL'
BATCH_ACTIVE_SQL = f'batch_id IS NOT NULL AND {ACTIVE_SQL}'


class Run(SQLModel, table=True):
    __table_args__ = (
        # PR lock: one active run per (repository, branch), enforced by the database. A matrix batch's children
        # on one branch are siblings and do not lock each other out (docs/triggers.md), so the unique index
        # covers the runs outside batches; admission decides the rest under the repository lock.
        partial_unique_index(
            'uq_run_active_branch', 'repository_key', 'branch_name', where=f'{ACTIVE_SQL} AND batch_id IS NULL'
        ),
        # who holds a branch: read by every admission (services/runs/sql.py REPOSITORY_FACTS)
        Index(
            'ix_run_active_branch',
            'repository_key',
            'branch_name',
            sqlite_where=text(ACTIVE_SQL),
            postgresql_where=text(ACTIVE_SQL),
        ),
        # one first attempt per cell of a batch's matrix, whichever send (or server) admits it, and at most one active
        # run per cell: a child's retry takes its place in the batch (migration 0025)
        partial_unique_index(
            'uq_run_batch_cell', 'batch_id', 'depth_level', 'target_framework', where=BATCH_FIRST_ATTEMPT_SQL
        ),
        partial_unique_index(
            'uq_run_batch_cell_active', 'batch_id', 'depth_level', 'target_framework', where=BATCH_ACTIVE_SQL
        ),
        Index('ix_run_batch', 'batch_id', 'id', sqlite_where=text(IN_BATCH_SQL), postgresql_where=text(IN_BATCH_SQL)),
        # Repository concurrency: each active run holds one numbered slot below the limit.
        partial_unique_index('uq_run_active_slot', 'repository_key', 'slot', where=ACTIVE_SQL),
        # The AFK loop is serial per project: at most one active loop run, whichever server launched it.
        # Hand-started AFK runs are additive (bounded by the global cap and by issue claims).
        partial_unique_index('uq_run_active_auto', 'project_id', where=ACTIVE_LOOP_RUN_SQL),
        Index('ix_run_status_created', 'status', 'created_at'),
        Index('ix_run_project_created', 'project_id', 'created_at'),
        # the AFK summary: a project's runs that ended since a moment or have not ended (migration 0047)
        Index('ix_run_project_finished', 'project_id', 'finished_at'),
        # the runs list: one (filter, id) index per filter, so a page is read in index order (run_reads.py)
        Index('ix_run_project_id', 'project_id', 'id'),
        Index('ix_run_status_id', 'status', 'id'),
        Index('ix_run_kind_id', 'kind', 'id'),
        Index('ix_run_user_id', 'user_id', 'id'),
        Index('ix_run_branch_id', 'branch_name', 'id'),
        Index('ix_run_retry_of', 'retry_of'),
        # the queued-TTL sweep, twice a second: the queued runs that can expire, soonest first, however many
        # are queued (only runs with a TTL are in it)
        # the log retention sweep: the ended runs whose output is still kept, oldest first
        Index('ix_run_log_kept', 'finished_at', sqlite_where=text(LOG_KEPT_SQL), postgresql_where=text(LOG_KEPT_SQL)),
        Index(
            'ix_run_status_expiry',
            'status',
            'expires_at',
            sqlite_where=text(HAS_EXPIRY_SQL),
            postgresql_where=text(HAS_EXPIRY_SQL),
        ),
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
    commit_sha: str | None = Field(default=None, max_length=64)  # the ref's commit when admitted (else at start)
    dispatched_at: datetime | None = None  # last published to the Celery queue (executor=celery)
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
    # what its processes used, from its cgroup (services/execution/limits.py); None where not measured
    peak_memory_bytes: int | None = Field(default=None, sa_type=BigInteger)
    cpu_seconds: float | None = None
    memory_max_bytes: int | None = Field(default=None, sa_type=BigInteger)  # the memory limit it ran under
    correlation_id: str | None = None
    stop_requested_at: datetime | None = None
    stop_requested_by: str | None = None
    worktree_path: str | None = None
    last_seq: int = 0
    output_lines: int = 0
    stage_count: int = Field(default=0, sa_column_kwargs={'server_default': '0'})  # markers printed, kept or not
    run_at: datetime | None = None  # a delayed run: when it is due (services/scheduling/delayed_runs.py)
    # a run of a protected branch its project asks an operator to approve (services/runs/approvals.py): 'waiting'
    # (written `delayed`, holding nothing, due once approved), then 'approved'; None: no approval asked
    approval: str | None = Field(default=None, max_length=10)
    approved_by: str | None = Field(default=None, max_length=200)
    approved_at: datetime | None = None
    # why what comes next for it waits: approved and held back at its last try by a lock, a limit or the quota
    # (scheduling/delayed_runs.py; None again once it is queued), or ended and its automatic retry refused for now
    # (runs/auto_retry.py; None again once it is retried or refused for good)
    waits_for: str | None = Field(default=None, max_length=500)
    # its automatic retry was refused for good then (the person or the project gone): none is coming
    # (services/runs/auto_retry.py); its end's held notifications go
    auto_retry_refused_at: datetime | None = None
    ttl_seconds: int | None = None  # the trigger's queued TTL (else the project's, when the run is queued)
    expires_at: datetime | None = None  # still queued then: it ends `expired` (services/scheduling/queue_ttl.py)
    batch_id: str | None = None  # a child of a matrix batch (models/batches.py): no FK, see migration 0012
    # a push or pull-request run (services/triggers/push.py): who pushed (when the forge says), the pull request
    pusher: str | None = Field(default=None, max_length=200)
    pr_number: int | None = None
    pr_title: str | None = Field(default=None, max_length=500)
    pr_url: str | None = Field(default=None, max_length=1000)
    log_removed_at: datetime | None = None  # its output left the database then (services/runs/log_retention.py)
    # artifact retention removed its artifacts then (services/artifacts/retention.py): they expired, not none kept
    artifacts_removed_at: datetime | None = None


class RunVariable(SQLModel, table=True):
    """A variable given to one run when it was triggered (GitLab's "Run pipeline" variables, GitHub's
    workflow_dispatch inputs): in its environment over the project's of the same name, kept for its retries."""

    __tablename__ = 'runvariable'
    run_id: str = Field(foreign_key='run.id', primary_key=True, ondelete='CASCADE')
    name: str = Field(primary_key=True, max_length=100)
    value: str


class CommitInfo(SQLModel, table=True):
    """A commit runs ran, as the runs list names it (services/repositories/commits.py): read from the repository once,
    never changed. By sha alone: the same sha in two repositories (a fork) is the same commit."""

    __tablename__ = 'commit_info'
    sha: str = Field(primary_key=True, max_length=64)
    title: str = Field(max_length=500)  # the message's first line
    author_name: str = Field(max_length=200)
    committed_at: datetime


class RunEvent(SQLModel, table=True):
    # a run's annotations (app/core/workflow_commands.py), its own and Runboard's, without reading its whole log:
    # few rows, kept small (migration 0024)
    __table_args__ = (
        Index(
            'ix_runevent_annotation',
            'run_id',
            'seq',
            sqlite_where=text("type IN ('annotation', 'runboard_annotation')"),
            postgresql_where=text("type IN ('annotation', 'runboard_annotation')"),
        ),
    )

    run_id: str = Field(foreign_key='run.id', primary_key=True)
    seq: int = Field(primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    type: str
    text: str


class RunStage(SQLModel, table=True):
    """A run's first stage markers (services/runs/stage_results.py), written with their events by
    services/runs/timeline.py, so a runs list shows each row's stages without reading its timeline."""

    run_id: str = Field(foreign_key='run.id', primary_key=True)
    idx: int = Field(primary_key=True)  # 0-based order of the marker among the run's markers
    seq: int  # the marker's timeline event
    name: str = Field(max_length=200)
    started_at: datetime


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
        partial_unique_index('uq_claim_unfinished', 'project_id', 'issue_number', where=_UNFINISHED_CLAIM_SQL),
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


# ---------------------------------------------------------------- workers (executor=celery)
class Worker(SQLModel, table=True):
    """A `runboard worker` as it last reported itself; `draining` is set by people and read by the worker."""

    name: str = Field(primary_key=True, max_length=200)  # the Celery node name, e.g. gpu@build-3
    instance_id: str = Field(index=True, max_length=200)  # owner_instance of the runs it executes
    host: str = Field(max_length=200)
    pid: int
    labels: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    slots: int
    version: str = Field(max_length=50)
    started_at: datetime = Field(default_factory=utcnow)
    heartbeat_at: datetime = Field(default_factory=utcnow)
    stopped_at: datetime | None = None  # a clean shutdown; a lost worker just stops beating
    draining: bool = False
    drain_requested_at: datetime | None = None
    # the run caches on its machine, as its last beat said: {project id: {'generation': n, 'sizes': {scope: bytes}}}
    caches: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, server_default='{}'))
    # how it executes runs, as it said at its start: {'sandbox': 'sandboxed', 'limits': 'memory 4.0 GiB, ...',
    # 'warnings': [...]} (its own environment decides, not the server's: docs/security.md)
    confinement: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, server_default='{}'))


# ---------------------------------------------------------------- audit
class AuditEntry(SQLModel, table=True):
    """Who did what, when, from which token: written in the same transaction as the change it records."""

    __table_args__ = (Index('ix_auditentry_team_id', 'team_id', 'id'),)
    id: str = Field(primary_key=True)  # sortable by time (app/core/ids.py)
    at: datetime = Field(default_factory=utcnow)
    team_id: str
    actor_id: str | None = None  # None: Runboard itself (the AFK loop)
    actor_name: str
    token_id: str | None = None
    action: str  # e.g. run.triggered, run.stopped, project.updated, token.revoked
    project_id: str | None = None
    target: str | None = None  # the run, token, person or project acted on
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    correlation_id: str | None = None


class BulkAction(SQLModel, table=True):
    """One bulk Stop or Retry under one Idempotency-Key: the runs it acts on are fixed when it starts, and its
    per-run answer is kept, so a resend acts on nothing again and gets the same answer."""

    user_id: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    fingerprint: str
    action: str  # stop | retry
    status: str = 'running'  # running | done
    targets: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
