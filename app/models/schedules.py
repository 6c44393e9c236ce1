"""Schedules (cron + time zone + fixed run parameters, per project) and their firings: the tables and the API
schemas. How they fire: services/scheduling/sweep.py; the rules: docs/triggers.md."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import field_validator
from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.vocabulary import as_utc, utcnow

CatchUp = Literal['once', 'skip']
FiringState = Literal['pending', 'admitted', 'skipped', 'missed']


# ---------------------------------------------------------------- tables
class Schedule(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint('project_id', 'name', name='uq_schedule_project_name'),
        Index('ix_schedule_next_fire', 'next_fire_at'),
    )
    id: str = Field(primary_key=True)  # sch_ + a time-sortable id
    project_id: str = Field(foreign_key='project.id', index=True)
    name: str = Field(max_length=100)
    cron: str = Field(max_length=200)  # five fields: minute hour day-of-month month day-of-week
    timezone: str = Field(default='UTC', max_length=64)  # an IANA zone the cron is read in
    branch: str = Field(max_length=250)
    depth_level: str = Field(max_length=64)
    target_framework: str = Field(max_length=64)
    catch_up: str = Field(default='once', max_length=10)  # slots missed while no server ran: once | skip
    # the runs' own variables, over the project's of the same names (GitLab's schedule variables); None: none
    variables: dict[str, str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    paused: bool = False
    user_id: str = Field(foreign_key='user.id')  # the owner: runs are admitted as this person
    next_fire_at: datetime | None = None  # the first slot not yet handled (UTC)
    version: int = 0  # bumped by every change and firing: the compare-and-set two servers race on
    # 1 when made, one more at each edit that changes something (not a firing, a pause or a resume): an edit names
    # the edit version it read and is refused (409 edit_conflict) when another changed the schedule meanwhile
    edit_version: int = Field(default=1, sa_column_kwargs={'server_default': '1'})
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ScheduleFiring(SQLModel, table=True):
    """One slot of one schedule, exactly once: the primary key (schedule_id, slot) is unique on every server."""

    schedule_id: str = Field(foreign_key='schedule.id', primary_key=True)
    slot: datetime = Field(primary_key=True)  # the cron time it fires for (UTC)
    state: str = Field(default='pending', max_length=10)  # pending -> admitted | skipped; or missed
    run_id: str | None = None
    reason: str | None = Field(default=None, max_length=50)  # the refusal's code: rate_limited, pr_lock, ...
    detail: str | None = Field(default=None, max_length=500)
    late: bool = False  # fired after its time: a catch-up for slots missed while no server ran
    attempts: int = 1  # claims of a pending firing (a server that died mid-firing is taken over)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- API schemas
class ScheduleCreate(SQLModel):
    model_config = {'extra': 'forbid'}
    name: str = Field(min_length=1, max_length=100)
    cron: str = Field(min_length=1, max_length=200)
    timezone: str = Field(default='UTC', min_length=1, max_length=64)
    branch: str = Field(min_length=1, max_length=250)
    depth_level: str = Field(min_length=1, max_length=64)
    target_framework: str = Field(min_length=1, max_length=64)
    catch_up: CatchUp = 'once'
    variables: dict[str, str] = {}  # checked as a trigger's (services/runs/admission.validate_variables)
    paused: bool = False

    _text = field_validator('name', 'timezone')(classmethod(lambda cls, v: _stripped(v)))
    _cron = field_validator('cron')(classmethod(lambda cls, v: _cron_line(v)))


class ScheduleUpdate(SQLModel):
    model_config = {'extra': 'forbid'}
    name: str | None = Field(default=None, min_length=1, max_length=100)
    cron: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str | None = Field(default=None, min_length=1, max_length=64)
    branch: str | None = Field(default=None, min_length=1, max_length=250)
    depth_level: str | None = Field(default=None, min_length=1, max_length=64)
    target_framework: str | None = Field(default=None, min_length=1, max_length=64)
    catch_up: CatchUp | None = None
    variables: dict[str, str] | None = None  # the whole set ({} removes them all)
    # the schedule's `edit_version` as the editor read it: the edit is refused (409 edit_conflict) if it is no longer
    # that; left out, the edit applies to the schedule as it is now
    edit_version: int | None = Field(default=None, ge=1)

    # normalised as a new schedule's are: an edit that names what is stored, spaced otherwise, changes nothing
    _text = field_validator('name', 'timezone')(classmethod(lambda cls, v: v if v is None else _stripped(v)))
    _cron = field_validator('cron')(classmethod(lambda cls, v: v if v is None else _cron_line(v)))


def _stripped(value: str) -> str:
    if not value.strip():
        raise ValueError('must not be blank')
    return value.strip()


def _cron_line(value: str) -> str:
    """A cron expression as it is stored and shown: its fields one space apart."""
    return ' '.join(_stripped(value).split())


class FiringPublic(SQLModel):
    schedule_id: str
    slot: datetime
    state: FiringState
    run_id: str | None = None
    run_status: str | None = None  # the run's status now (admitted firings)
    reason: str | None = None
    detail: str | None = None
    late: bool = False
    created_at: datetime
    updated_at: datetime

    _utc = field_validator('slot', 'created_at', 'updated_at')(classmethod(lambda cls, v: as_utc(v)))


class SchedulePublic(SQLModel):
    id: str
    project_id: str
    name: str
    cron: str
    timezone: str
    branch: str
    depth_level: str
    target_framework: str
    catch_up: CatchUp
    variables: dict[str, str] = {}
    paused: bool
    user_id: str
    user_name: str | None = None
    next_fire_at: datetime | None = None  # None while paused
    upcoming: list[datetime] = []  # the next few slots (UTC), for "next firings"
    last_firing: FiringPublic | None = None
    edit_version: int  # what an edit names to be refused if another changed the schedule meanwhile
    created_at: datetime
    updated_at: datetime

    _utc = field_validator('next_fire_at', 'created_at', 'updated_at')(classmethod(lambda cls, v: as_utc(v)))


class NextFiring(SQLModel):
    """A project's soonest firing among its schedules (the project card: "next run in 4 min · nightly")."""

    schedule_id: str
    name: str
    at: datetime

    _utc = field_validator('at')(classmethod(lambda cls, v: as_utc(v)))
