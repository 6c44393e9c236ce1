"""What AFK agents spend (docs/afk.md, "Cost"): one row per well-formed `::usage::` line a run printed
(app/core/workflow_commands.py `usage_of`), summed per run, per day and per issue on read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index
from sqlmodel import Field, SQLModel

from app.models.vocabulary import utcnow


class RunUsage(SQLModel, table=True):
    __tablename__ = 'runusage'
    __table_args__ = (Index('ix_runusage_run', 'run_id'), Index('ix_runusage_project_at', 'project_id', 'at'))
    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key='run.id', ondelete='CASCADE')
    project_id: str  # the run's, so a project's day is read without the run table
    at: datetime = Field(default_factory=utcnow)
    input_tokens: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    output_tokens: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    cost_usd: float = 0.0
    model: str | None = Field(default=None, max_length=100)


class UsagePublic(SQLModel):
    """A run's usage: the sum of its `::usage::` lines (`reports` of them; the last model named)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    model: str | None = None
    reports: int = 0


class CostDay(SQLModel):
    day: str  # YYYY-MM-DD (UTC)
    cost_usd: float
    runs: int


class CostIssue(SQLModel):
    issue_number: int
    issue_title: str | None = None
    cost_usd: float
    runs: int


class ProjectCosts(SQLModel):
    """GET /projects/{id}/costs: AFK cost per UTC day and per issue, and where today stands against the cap."""

    days: list[CostDay]
    issues: list[CostIssue]
    today_usd: float  # since 00:00 UTC or the last Reset, whichever is later (what the cap compares)
    cap_usd: float | None
    capped: bool
