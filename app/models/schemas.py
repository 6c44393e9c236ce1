"""API schemas (Create / Update / Public families), shared by the API, the client, the UI and the CLI."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import field_validator, model_validator
from sqlmodel import Field, SQLModel

from app.models.labels import normalise_labels
from app.models.schedules import NextFiring
from app.models.tables import ProjectBase, check_auto_retry_on, check_protected_branches
from app.models.triggers import OnPush
from app.models.usage import UsagePublic
from app.models.vocabulary import as_utc

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


def _not_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError('must be seconds or a duration like 10m, not true or false')
    return value


class CredentialsIn(SQLModel):
    """Write-only git credentials: an https token (with its user name) or an SSH private key."""

    model_config = {'extra': 'forbid'}
    kind: Literal['token', 'ssh_key']
    username: str = Field(default='git', min_length=1, max_length=200)
    secret: str = Field(min_length=1, max_length=20_000, repr=False)


# The server variables an issue_source's token_env may name: those an administrator set for forge tokens. Any
# other name would let a project's operator have the server send its database URL or secret key to a forge URL
# of their choosing.
FORGE_TOKEN_ENV_PREFIX = 'RUNBOARD_FORGE_TOKEN_'
_FORGE_TOKEN_ENV = re.compile(re.escape(FORGE_TOKEN_ENV_PREFIX) + r'[A-Z0-9_]{1,64}')


def token_env_problem(name: object) -> str | None:
    """Pure: why a token_env cannot be read (None: it can)."""
    if isinstance(name, str) and _FORGE_TOKEN_ENV.fullmatch(name):
        return None
    return (
        f'token_env must name a server variable {FORGE_TOKEN_ENV_PREFIX}<NAME> (A-Z, 0-9, _), set by its administrator '
        "for forge tokens; other server variables are not a project's to read. Or give the token itself (stored "
        'encrypted).'
    )


def check_issue_source(source: dict[str, Any] | None) -> dict[str, Any] | None:
    if source and source.get('token_env') is not None and (problem := token_env_problem(source['token_env'])):
        raise ValueError(problem)
    return source


class ProjectCreate(ProjectBase):
    model_config = {'extra': 'forbid'}
    id: str = Field(min_length=2, max_length=64)
    team_id: str | None = None
    repository: str = Field(default='', max_length=1000)  # empty: the forge's clone URL (issue_source)
    credentials: CredentialsIn | None = None

    @field_validator('id')
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.fullmatch(value):
            raise ValueError('must be a slug: lowercase letters, digits and inner dashes')
        return value

    _command = field_validator('command')(classmethod(lambda cls, v: _check_argv(v)))
    _depths = field_validator('depth_levels', 'target_frameworks')(classmethod(lambda cls, v: _check_choices(v)))
    _runs_on = field_validator('runs_on')(classmethod(lambda cls, v: normalise_labels(v)))
    _source = field_validator('issue_source')(classmethod(lambda cls, v: check_issue_source(v)))


class ProjectUpdate(SQLModel):
    model_config = {'extra': 'forbid'}
    name: str | None = Field(default=None, min_length=1, max_length=200)
    repository: str | None = Field(default=None, min_length=1, max_length=1000)
    base_branch: str | None = Field(default=None, min_length=1, max_length=250)
    command: list[str] | None = None
    depth_levels: list[str] | None = None
    target_frameworks: list[str] | None = None
    max_concurrent_runs: int | None = Field(default=None, ge=1, le=100_000)
    run_budget_seconds: int | None = Field(default=None, ge=1)
    issue_source: dict[str, Any] | None = None
    credentials: CredentialsIn | None = None  # replaces the stored credentials; null removes them
    runs_on: list[str] | None = None
    queued_ttl_seconds: int | None = Field(default=None, ge=1, le=30 * 86400)  # null: queued runs never expire
    network: Literal['default', 'none'] | None = None  # the run sandbox's network
    on_push: OnPush | None = None  # push rules (docs/triggers.md); null removes them
    afk_cost_cap_usd_per_day: float | None = Field(default=None, ge=0.01, le=1_000_000)  # null removes the cap
    afk_cost_cap_stops_runs: bool | None = None  # an AFK run passing the cap while it runs is stopped
    log_retention_days: int | None = Field(default=None, ge=1, le=3650)  # null: the server's
    run_memory_max: int | None = Field(default=None, ge=1024**2)  # bytes; null: the executor's RUNBOARD_RUN_MEMORY_MAX
    run_cpus: float | None = Field(default=None, ge=0.01, le=1024)  # cores; null: the executor's RUNBOARD_RUN_CPUS
    auto_retry: int | None = Field(default=None, ge=0, le=3)  # 0: never
    auto_retry_on: list[str] | None = None
    protected_branches: list[str] | None = None  # null: the base branch alone
    approval_required: bool | None = None  # runs of protected branches by non-operators wait for an operator
    # the project's `edit_version` as the editor read it: the edit is refused (409 edit_conflict) if it is no longer
    # that; left out, the edit applies to the project as it is now
    edit_version: int | None = Field(default=None, ge=1)

    _runs_on = field_validator('runs_on')(classmethod(lambda cls, v: v if v is None else normalise_labels(v)))
    _source = field_validator('issue_source')(classmethod(lambda cls, v: check_issue_source(v)))

    _command = field_validator('command')(classmethod(lambda cls, v: v if v is None else _check_argv(v)))
    _depths = field_validator('depth_levels', 'target_frameworks')(
        classmethod(lambda cls, v: v if v is None else _check_choices(v))
    )
    _retry_on = field_validator('auto_retry_on')(classmethod(lambda cls, v: v if v is None else check_auto_retry_on(v)))
    _protected = field_validator('protected_branches')(classmethod(lambda cls, v: check_protected_branches(v)))


NAME_RE = r'^[A-Za-z_][A-Za-z0-9_]{0,99}$'


class VariableIn(SQLModel):
    model_config = {'extra': 'forbid'}
    value: str = Field(max_length=65_536, repr=False)
    protected: bool | None = None  # given only to runs of protected branches; omitted: as it was (new: not)


class VariablePublic(SQLModel):
    """A project variable or secret as the API answers it: a secret's value never leaves the server."""

    name: str
    secret: bool
    protected: bool = False  # given only to runs of the project's protected branches
    value: str | None = None  # plain variables only
    set_by: str | None = None
    updated_at: datetime


class ProjectBadges(SQLModel):
    """GET/POST /api/projects/{id}/badges: the README badges' addresses (absolute, from the request's host), and the
    Markdown that shows them; every address is None while badges are off."""

    project_id: str
    enabled: bool
    branch: str  # the base branch; `?branch=` picks another
    status_url: str | None = None
    coverage_url: str | None = None
    markdown: str | None = None


class ProjectPublic(ProjectBase):
    id: str
    team_id: str
    repository_key: str
    auto_enabled: bool
    consecutive_failures: int
    launch_error: str | None = None
    launch_error_at: datetime | None = None
    afk_cost_capped_on: str | None = None  # the UTC day (YYYY-MM-DD) its AFK cost reached the cap, until Reset
    paused: bool = False
    ready_count: int | None = None
    parked_count: int = 0
    active_runs: int = 0
    awaiting_approval: int = 0  # its runs that wait for an operator's approval (services/runs/approvals.py)
    has_credentials: bool = False
    credentials_kind: str | None = None
    next_schedule: NextFiring | None = None  # its schedules' soonest firing
    # its AFK loop as the answering server's sweep sees it, with auto on (services/afk/project_view.py SweepClock):
    # when the sweep next looks for work (None: auto off, or no sweep scheduled on this server), and whether the
    # server's active runs fill RUNBOARD_GLOBAL_RUN_CAP (a sweep launches nothing then)
    afk_next_sweep_at: datetime | None = None
    at_global_run_cap: bool = False
    # why this deployment would refuse the repository now (team mode: a server path); the project still runs
    repository_notice: str | None = None
    on_push: OnPush | None = None  # push rules (docs/triggers.md)
    has_hook_secret: bool = False  # the forge webhook's secret is set (never answered after it was made)
    edit_version: int  # what an edit names to be refused if another changed the settings meanwhile
    created_at: datetime
    updated_at: datetime


class RunCreate(SQLModel):
    model_config = {'extra': 'forbid'}
    project_id: str = Field(min_length=1, max_length=64)
    depth_level: str = Field(min_length=1, max_length=64)
    target_framework: str = Field(min_length=1, max_length=64)
    branch: str = Field(min_length=1, max_length=250)
    x_idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)
    # later, and for how long it may wait queued (services/runs/timing.py; docs/triggers.md)
    run_at: str | None = Field(default=None, min_length=1, max_length=64)  # ISO 8601; no offset: UTC
    run_in: str | None = Field(default=None, min_length=1, max_length=32)  # e.g. 90s, 10m, 2h, 1d, 1h30m
    ttl: int | str | None = Field(default=None)  # seconds, or a duration like 10m
    # the run's own environment variables, over the project's (services/runs/admission.validate_variables)
    variables: dict[str, str] | None = None

    _ttl = field_validator('ttl', mode='before')(classmethod(lambda cls, v: _not_bool(v)))


class RunRetry(SQLModel):
    model_config = {'extra': 'forbid'}
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


class StagePublic(SQLModel):
    """One stage of a run (services/runs/stage_results.py): from its marker to the next one, or to the run's end."""

    name: str
    seq: int  # its marker's event in the timeline
    started_at: datetime
    ended_at: datetime | None  # None while it runs
    result: Literal['running', 'succeeded', 'failed', 'timed_out', 'crashed', 'stopped']
    seconds: float  # its duration; while it runs, so far

    _utc = field_validator('started_at', 'ended_at')(classmethod(lambda cls, v: as_utc(v)))


class RunPublic(SQLModel):
    id: str
    project_id: str
    kind: str
    status: str
    depth_level: str
    target_framework: str
    branch_name: str
    commit_sha: str | None = None
    # its commit's message's first line and author, once read from the repository (services/repositories/commits.py)
    commit_title: str | None = None
    commit_author: str | None = None
    commit_url: str | None = None  # its page on the repository's forge, where one is known (GitHub, GitLab, ...)
    user_id: str | None
    user_name: str | None = None
    idempotency_key: str | None
    retry_of: str | None
    retried_by: list[str] = []  # the runs that retry this one, oldest first
    # an AFK run: the newest later AFK run on its issue (the loop took it up again, or a retry); None: none
    issue_taken_up_by: str | None = None
    # the trigger's own variables (GET /runs/{id}, and the answer that made it); None in lists: not read there
    variables: dict[str, str] | None = None
    issue_number: int | None
    issue_title: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime | None
    heartbeat_at: datetime | None
    exit_code: int | None
    error: str | None
    # what its processes used (their cgroup's count: docs/security.md), so far while it runs (each heartbeat); None
    # where not measured
    peak_memory_bytes: int | None = None
    cpu_seconds: float | None = None
    memory_max_bytes: int | None = None  # the memory limit it ran under (RUNBOARD_RUN_MEMORY_MAX); None: none
    correlation_id: str | None
    output_lines: int
    last_seq: int
    # a queued run only: why it waits (e.g. 'waiting for a worker with labels gpu') and its place in line
    waiting: str | None = None
    queue_position: int | None = None
    # its first stages with result and duration; stage_count counts every marker, also those not kept
    stages: list[StagePublic] = []
    stage_count: int = 0
    # a delayed run: when it is due; a queued run with a TTL: when it expires (docs/triggers.md)
    run_at: datetime | None = None
    ttl_seconds: int | None = None
    expires_at: datetime | None = None
    approval: str | None = None  # 'waiting' for an operator's approval, then 'approved' (docs/security.md)
    approved_by: str | None = None
    approved_at: datetime | None = None
    # a delayed run approved but held back: why (a lock, a limit or the quota refused its admission). An ended run's
    # column holds why its automatic retry waits; that is said as retry_planned.waits, while the retry is to come only
    waits_for: str | None = None
    batch_id: str | None = None  # a child of this matrix batch (GET /runs/batch/{batch_id})
    # a push or pull-request run (docs/triggers.md): who pushed, the pull request it runs
    pusher: str | None = None
    pr_number: int | None = None
    pr_title: str | None = None
    pr_url: str | None = None
    usage: UsagePublic | None = None  # what its agent reported spending (`::usage::` lines, summed); None: nothing
    log_removed_at: datetime | None = None  # its output left the database then (log retention, docs/pipelines.md)

    _utc = field_validator('created_at', 'started_at', 'finished_at', 'deadline_at', 'heartbeat_at', 'log_removed_at')(
        classmethod(lambda cls, v: as_utc(v))
    )

    _utc_timing = field_validator('run_at', 'expires_at', 'approved_at')(classmethod(lambda cls, v: as_utc(v)))

    @model_validator(mode='after')
    def _waits_only_while_delayed(self) -> RunPublic:
        if self.status != 'delayed':
            self.waits_for = None  # else an ended run whose retry never came would go on saying why it waits
        return self


class AnnotationPublic(SQLModel):
    """One `::error|warning|notice::` line of a run's output (app/core/workflow_commands.py)."""

    seq: int  # its line in the log (`#L<seq>`)
    level: Literal['error', 'warning', 'notice']
    message: str
    title: str | None = None
    file: str | None = None
    line: int | None = None
    end_line: int | None = None
    col: int | None = None
    end_column: int | None = None


class PlannedRetry(SQLModel):
    attempt: int  # the retry will be attempt `attempt` of `of`
    of: int
    waits: str | None = None  # refused for now (the quota, the concurrency limit, the branch's lock): why


class RunDetail(RunPublic):
    events: list[RunEventPublic] = []
    annotations: list[AnnotationPublic] = []  # the first 50, in log order
    # an ended run its project retries automatically, until the retry is made (docs/pipelines.md)
    retry_planned: PlannedRetry | None = None


class WorkerPublic(SQLModel):
    name: str
    host: str
    pid: int
    labels: list[str]
    slots: int
    busy: int
    version: str
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None = None
    draining: bool
    drain_requested_at: datetime | None = None
    state: Literal['live', 'draining', 'lost', 'stopped']
    # how it executes runs, from its own environment (docs/security.md); None: a worker of an earlier version
    sandbox: str | None = None  # sandboxed | unsandboxed | refused
    limits: str | None = None  # e.g. 'memory 4.0 GiB, 4096 processes', or 'none'
    warnings: list[str] = []  # its runs unsandboxed or refused, limits asked for and not enforced there

    _utc = field_validator('started_at', 'heartbeat_at', 'stopped_at', 'drain_requested_at')(
        classmethod(lambda cls, v: as_utc(v))
    )


class WorkerCachesPublic(SQLModel):
    worker: str
    state: str  # live or draining
    sizes: dict[str, int]  # bytes of each cache when its last run there ended; absent: not used there (since a clear)


class RunCachesPublic(SQLModel):
    """A project's run caches (docs/pipelines.md, "Caches"): their generation (a clear raises it) and, where this
    server runs the project's runs itself, the bytes of each cache on its machine (`base`, `branches`)."""

    project_id: str
    generation: int
    cleared_at: datetime | None
    executor: Literal['local', 'celery']  # celery: each worker keeps its own caches, listed in `workers`
    sizes: dict[str, int]  # local: on this server's machine
    workers: list[WorkerCachesPublic] = []  # celery: each live worker's, as its heartbeat last said

    _utc = field_validator('cleared_at')(classmethod(lambda cls, v: as_utc(v)))
