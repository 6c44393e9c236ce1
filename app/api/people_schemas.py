"""Request and answer bodies of the people and tokens routes (api/users.py, api/tokens.py)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _printable_name(value: str) -> str:
    """A name a person reads in lists and the audit log: trimmed, not blank, no control characters."""
    value = value.strip()
    if not value:
        raise ValueError('must not be blank')
    if any(unicodedata.category(ch) in ('Cc', 'Cf') for ch in value):
        raise ValueError('must not contain control or formatting characters')
    return value


class PersonCreate(BaseModel):
    model_config = ConfigDict(extra='forbid')
    name: str = Field(min_length=1, max_length=200)
    role: Literal['builder', 'operator'] = 'builder'
    team_id: str | None = Field(default=None, min_length=1, max_length=64)  # unset: the caller's only team
    token_name: str = Field(default='default', min_length=1, max_length=100)

    _names = field_validator('name', 'token_name')(classmethod(lambda cls, v: _printable_name(v)))


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra='forbid')
    user_id: str | None = Field(default=None, min_length=1, max_length=64)  # unset: the caller's own
    name: str = Field(min_length=1, max_length=100)

    _name = field_validator('name')(classmethod(lambda cls, v: _printable_name(v)))


class TokenSummaryPublic(BaseModel):
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None = Field(None, description='When it was last used, to the minute; null: never')


class PersonPublic(BaseModel):
    id: str
    name: str
    role: str
    teams: list[str]
    created_at: datetime
    tokens: list[TokenSummaryPublic]
    in_other_teams: bool = Field(
        False, description='Also in a team you are not in (never named): you may not create or revoke their tokens'
    )
    is_admin: bool = Field(False, description='A deployment administrator: only another one manages their tokens')
    last_admin: bool = Field(
        False,
        description="The deployment's only administrator who is an operator: not made a builder, nor removed from "
        'their last team (409 last_admin), until another administrator is an operator',
    )


class NewTokenPublic(BaseModel):
    id: str
    user_id: str
    user_name: str
    name: str
    created_at: datetime
    token: str = Field(description='The token itself: shown in this answer only (the server keeps a hash).')


class PersonCreated(BaseModel):
    person: PersonPublic
    token: NewTokenPublic


class TeamPublic(BaseModel):
    id: str
    name: str


class PersonUpdate(BaseModel):
    model_config = ConfigDict(extra='forbid')
    role: Literal['builder', 'operator']


class ScheduleRefPublic(BaseModel):
    id: str
    name: str
    project_id: str


class ProjectRefPublic(BaseModel):
    id: str
    name: str


class RemovalPublic(BaseModel):
    """What removing a person from your teams did (`done`), or would do (GET …/removal: nothing changed)."""

    user_id: str
    name: str
    teams: list[str] = Field(description='Your teams they leave')
    in_other_teams: bool = Field(
        description='Still in a team you are not in (never named): they keep their tokens, which work there'
    )
    tokens_revoked: int = Field(description='Their API tokens deleted, as they are in no team any more (else 0)')
    schedules_paused: list[ScheduleRefPublic] = Field(
        description='Their running schedules on the projects of the teams they leave, paused (each in the audit log)'
    )
    push_rules_as_them: list[ProjectRefPublic] = Field(
        description='Projects of those teams whose push rules start runs as them, left as they are: save the push '
        'rules again to own them'
    )
    done: bool
