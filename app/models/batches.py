"""Matrix (batch) triggers: the batch table and the API schemas. One batch is one trigger of a run per
combination of depth level and target framework, under one Idempotency-Key. The rules: services/runs/batches.py;
the page: docs/triggers.md ("Matrix triggers")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import StringConstraints, field_validator
from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.schemas import RunPublic
from app.models.vocabulary import as_utc, utcnow

__all__ = ['BATCH_PREFIX', 'MAX_COMBINATIONS', 'Batch', 'BatchChild', 'BatchCreate', 'BatchMatrix', 'BatchMode']
__all__ += ['BatchPublic', 'ChildProblem']

BatchMode = Literal['best_effort', 'all_or_nothing']
Choice = Annotated[str, StringConstraints(min_length=1, max_length=64)]
MAX_COMBINATIONS = 50  # children of one batch; more is a 422
BATCH_PREFIX = 'bat_'


# ---------------------------------------------------------------- table
class Batch(SQLModel, table=True):
    """The (user_id, key) unique constraint decides races: two requests (or two servers) sending one batch
    share one row, so its children carry one batch id and each child's derived key makes it at most once."""

    __table_args__ = (
        UniqueConstraint('user_id', 'key', name='uq_batch_user_key'),
        Index('ix_batch_project_id', 'project_id', 'id'),
    )
    id: str = Field(primary_key=True)  # bat_ + a time-sortable id (core/ids.py)
    user_id: str = Field(foreign_key='user.id')
    project_id: str = Field(foreign_key='project.id')
    key: str = Field(max_length=255)  # the batch's Idempotency-Key (scope: the user); never expires
    fingerprint: str = Field(max_length=64)  # of the request body: the same key with another body is a 422
    mode: str = Field(default='best_effort', max_length=20)
    # {'branch', 'depth_level': [...], 'target_framework': [...], 'commit_sha'}: what every child runs
    params: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default='admitting', max_length=20)  # admitting | admitted | partial | refused
    admitted: int = 0  # children admitted after the last pass
    refused: int = 0  # children refused in the last pass
    # [{depth_level, target_framework, problem}]: the children the last pass refused (a run of one wins over this)
    refusals: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- API schemas
class BatchMatrix(SQLModel):
    model_config = {'extra': 'forbid'}
    depth_level: list[Choice] = Field(min_length=1, max_length=MAX_COMBINATIONS)
    target_framework: list[Choice] = Field(min_length=1, max_length=MAX_COMBINATIONS)


class BatchCreate(SQLModel):
    model_config = {'extra': 'forbid'}
    project_id: str = Field(min_length=1, max_length=64)
    branch: str = Field(min_length=1, max_length=250)
    matrix: BatchMatrix
    mode: BatchMode = 'best_effort'
    variables: dict[str, str] = {}  # every child's own, over the project's (as a single trigger's `variables`)


class ChildProblem(SQLModel):
    """Why a child was not admitted: the problem a single trigger of it would have answered."""

    status: int
    error: str
    detail: str
    retry_after: int | None = None
    blocking_runs: list[str] = []


class BatchChild(SQLModel):
    depth_level: str
    target_framework: str
    outcome: Literal['admitted', 'refused', 'pending']  # pending: not yet tried (a pass is still at work)
    run: RunPublic | None = None  # admitted: the run, as it is now
    replayed: bool = False  # admitted by an earlier send of the batch (this answer only replays it)
    problem: ChildProblem | None = None  # refused: why


class BatchPublic(SQLModel):
    id: str
    project_id: str
    branch: str
    mode: str
    matrix: dict[str, list[str]]
    commit_sha: str | None = None
    commit_title: str | None = None  # its message's first line, once the server has read it (GET only)
    variables: dict[str, str] = {}
    idempotency_key: str
    user_id: str
    user_name: str | None = None
    status: str  # admitted | partial | refused | admitting
    summary: dict[str, int]  # children by outcome: total, admitted, refused, pending
    runs_by_status: dict[str, int]  # the admitted children's runs by their status now, e.g. {'running': 2}
    children: list[BatchChild]
    created_at: datetime
    updated_at: datetime

    _utc = field_validator('created_at', 'updated_at')(classmethod(lambda cls, v: as_utc(v)))
