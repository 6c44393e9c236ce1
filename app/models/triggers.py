"""Push and pull-request triggers (issue 37): a project's `on_push` rules, the API schemas of its hook secret, and
the tables that make one run per pushed head (PushHead) and carry each run's commit statuses to the forge
(CommitStatus). What they mean: docs/triggers.md, "On push and pull requests"; the rules: services/triggers/."""

from __future__ import annotations

from datetime import datetime

from pydantic import field_validator, model_validator
from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.vocabulary import as_utc, utcnow

MAX_PATTERNS = 50


def check_patterns(values: list[str], what: str) -> list[str]:
    cleaned = []
    for value in values:
        text = value.strip()
        if not text or text == '!' or len(text) > 250 or any(ord(ch) < 32 for ch in text):
            raise ValueError(f'{what} patterns are 1-250 printable characters; {value!r} is not')
        if text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > MAX_PATTERNS:
        raise ValueError(f'at most {MAX_PATTERNS} {what} patterns')
    return cleaned


class PushMatrix(SQLModel):
    model_config = {'extra': 'forbid'}
    depth_level: list[str] = Field(min_length=1, max_length=10)
    target_framework: list[str] = Field(min_length=1, max_length=10)


class OnPush(SQLModel):
    """`on_push` of a project: which pushes (and pull requests) start a run, and with which parameters.

    branches: globs (`main`, `release/*`, `**`), `!` before one excludes what it matches; the last pattern that
    matches a branch decides, as in GitHub's `branches` filter. paths: globs of changed files (empty: any
    change). One run (depth_level + target_framework, the project's first when left out) or a matrix."""

    model_config = {'extra': 'forbid'}
    branches: list[str] = Field(min_length=1)
    paths: list[str] = Field(default_factory=list)
    depth_level: str | None = None
    target_framework: str | None = None
    matrix: PushMatrix | None = None
    pull_requests: bool = False  # also run a pull request's head when it is opened, synchronized or reopened
    cancel_in_progress: bool = True  # a newer push to a branch cancels that branch's queued push runs
    cancel_running: bool = False  # ... and stops its running ones too
    enabled: bool = True

    _branches = field_validator('branches')(classmethod(lambda cls, v: check_patterns(v, 'branch')))
    _paths = field_validator('paths')(classmethod(lambda cls, v: check_patterns(v, 'path')))

    @model_validator(mode='after')
    def _one_or_matrix(self) -> OnPush:
        if self.matrix is not None and (self.depth_level or self.target_framework):
            raise ValueError('give depth_level and target_framework, or a matrix, not both')
        if not any(not pattern.startswith('!') for pattern in self.branches):
            raise ValueError('branches needs at least one pattern without "!" (one that selects branches)')
        return self


class HookSecretCreated(SQLModel):
    """The answer of POST /api/projects/{id}/hook-secret: the secret, shown this once, and where to send."""

    project_id: str
    secret: str
    url: str  # the path of the project's hook endpoint, e.g. /api/hooks/demo


class HookAccepted(SQLModel):
    """What POST /api/hooks/{project_id} did with one delivery."""

    forge: str  # github | gitea | gitlab
    event: str  # push | pull_request | issues | ping | ignored
    # admitted | replayed | no_match | ignored | skipped ([skip ci]) | refused | waiting (a pull request's run refused
    # for now: admitted when the branch frees up) | refreshed (issues: the ready issues are read again)
    outcome: str
    run_ids: list[str] = []
    detail: str | None = None


# ---------------------------------------------------------------- tables
class PushHead(SQLModel, table=True):
    """The last head of each branch a project's push rules acted on: a fetch that finds a branch at another
    commit admits it (under the push's key), and only then is the row moved. A refused push (the branch is
    busy) leaves the row, so the next fetch tries again."""

    __tablename__ = 'push_head'
    project_id: str = Field(foreign_key='project.id', ondelete='CASCADE', primary_key=True)
    branch: str = Field(primary_key=True, max_length=250)
    sha: str = Field(max_length=64)
    updated_at: datetime = Field(default_factory=utcnow)


class PullRequestWait(SQLModel, table=True):
    """A pull request's run that a refusal time can change kept out (its branch busy with the push run of the same
    commit, the repository at its limit, the quota): admitted when a run ends, or dropped once its head moved on.
    One row per pull request, its newest head."""

    __tablename__ = 'pull_request_wait'
    project_id: str = Field(foreign_key='project.id', ondelete='CASCADE', primary_key=True)
    number: int = Field(primary_key=True)
    branch: str = Field(max_length=250)
    sha: str = Field(max_length=64)
    author: str | None = Field(default=None, max_length=250)
    title: str = Field(max_length=500)
    url: str = Field(max_length=1000)
    reason: str = Field(max_length=500)  # the refusal, as the hook's answer said it
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class PushWait(SQLModel, table=True):
    """A pushed head that the rules selected but that waits (its branch's run still going, the repository at its
    limit, the quota), so the forge shows it `pending` before its run exists (services/triggers/push.py). `state`
    and `description` are what its commit status says: `pending` while it waits, `error` once a newer push to its
    branch replaced it before it ran (or it was refused for good). The row goes once the head has its run (whose
    own states follow on the forge); an ended one is cleared after a while (services/triggers/statuses.py)."""

    __tablename__ = 'push_wait'
    project_id: str = Field(foreign_key='project.id', ondelete='CASCADE', primary_key=True)
    branch: str = Field(max_length=250, primary_key=True)
    sha: str = Field(max_length=64, primary_key=True)
    state: str = Field(default='pending', max_length=10)  # pending | error
    description: str = Field(max_length=140)
    blocked_by: str | None = Field(default=None, max_length=64)  # the run it waits for, when one is named
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class CommitStatus(SQLModel, table=True):
    """One state of one run posted to the forge as a commit status (pending, then success/failure/error), retried
    with backoff like a webhook delivery. (run_id, state) is unique: one run, one post of each state, whichever
    server writes it. A waiting head's (PushWait) rows have no run: their run_id is a key made from the head and
    the check's name (statuses.wait_key)."""

    __tablename__ = 'commit_status'
    __table_args__ = (
        UniqueConstraint('run_id', 'state', name='uq_commit_status_run_state'),
        Index('ix_commit_status_due', 'status', 'next_attempt_at'),
        Index('ix_commit_status_project', 'project_id', 'id'),
        Index('ix_commit_status_commit', 'sha', 'context', 'id'),  # the latest state posted on a commit
    )
    id: str = Field(primary_key=True)  # cst_ + a time-sortable id
    project_id: str = Field(foreign_key='project.id', ondelete='CASCADE')
    run_id: str = Field(max_length=64)
    sha: str = Field(max_length=64)
    state: str = Field(max_length=10)  # pending | success | failure | error
    context: str = Field(max_length=250)
    description: str = Field(default='', max_length=140)
    # where the forge's link goes when it is not the run's page (a waiting head's: the run it waits for)
    target_path: str | None = Field(default=None, max_length=300)
    status: str = Field(default='pending', max_length=10)  # pending | failed | delivered | gave_up
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    claimed_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None


class CommitStatusPublic(SQLModel):
    id: str
    run_id: str
    sha: str
    state: str
    context: str
    status: str
    attempts: int
    next_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime
    delivered_at: datetime | None = None

    _utc = field_validator('next_attempt_at', 'created_at', 'delivered_at')(classmethod(lambda cls, v: as_utc(v)))
