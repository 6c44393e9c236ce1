"""Notifications: per-project rules (signed webhooks), their deliveries and each delivery's attempts; the tables
and the API schemas. What is sent and when: services/notify_*.py; the contract for receivers: docs/notifications.md."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import field_validator
from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.vocabulary import EVENT_TYPES, as_utc, utcnow
from app.models.webhook_url import url_refusal

PING_EVENT = 'ping'
NotificationFormat = Literal['runboard', 'slack']
# held: its run's automatic retry is to come (sent if none is made); skipped: the retry was made, nothing is sent
DeliveryStatus = Literal['pending', 'delivered', 'failed', 'gave_up', 'held', 'skipped']
# a delivery waiting for its (next) attempt: never tried, or failed and backing off
DUE_STATUSES = ('pending', 'failed')


# ---------------------------------------------------------------- tables
class NotificationRule(SQLModel, table=True):
    id: str = Field(primary_key=True)  # ntf_ + a time-sortable id
    project_id: str = Field(foreign_key='project.id', ondelete='CASCADE', index=True)
    name: str = Field(max_length=100)
    url: str = Field(max_length=2000)
    format: str = Field(default='runboard', max_length=20)
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # the signing secret, encrypted with the server's secret box (infra/secret_box.py); shown once
    secret_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    # the secret a rotation replaced, encrypted alike: deliveries are signed with it too until previous_secret_until
    previous_secret_encrypted: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    previous_secret_until: datetime | None = None
    enabled: bool = True
    # 1 when made, one more at each change of its fields (not a new secret): an edit names the version it read and is
    # refused (409 edit_conflict) when another changed the rule meanwhile (services/notifications/webhooks.py)
    version: int = 1
    created_by: str | None = None  # a user id
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Delivery(SQLModel, table=True):
    """One event for one rule. The body is stored as sent (its bytes are signed), so every attempt of one
    delivery sends the same body under the same id. (rule_id, event_key) is unique: one event, one delivery."""

    __table_args__ = (
        UniqueConstraint('rule_id', 'event_key', name='uq_delivery_rule_event'),
        Index('ix_delivery_due', 'status', 'next_attempt_at'),
        Index('ix_delivery_project_id', 'project_id', 'id'),
        Index('ix_delivery_rule_id', 'rule_id', 'id'),
        Index('ix_delivery_rule_gave_up', 'rule_id', 'gave_up_at'),
    )
    id: str = Field(primary_key=True)  # dlv_ + a time-sortable id: the X-Runboard-Delivery header
    rule_id: str = Field(foreign_key='notificationrule.id', ondelete='CASCADE')
    project_id: str = Field(max_length=64)
    event_id: str = Field(max_length=64)  # evt_...: the same for every rule's delivery of one event
    event_key: str = Field(max_length=200)  # e.g. run.failed:run_...: what makes a second delivery a duplicate
    event_type: str = Field(max_length=50)
    run_id: str | None = Field(default=None, max_length=64)
    # what happened (services/notify_payloads.EventFacts, without the server's address), written with the change
    facts: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # the body, exactly as sent: rendered from `facts` by the server that first sends it, then fixed
    payload: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(default='pending', max_length=10)
    attempts: int = 0
    round_start: int = 0  # `attempts` when the current round began (a redelivery starts a new round)
    next_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    claimed_by: str | None = Field(default=None, max_length=200)  # the instance sending it now
    claimed_until: datetime | None = None  # its claim lapses then (an instance that died mid-send)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    delivered_at: datetime | None = None
    # when it last gave up (kept through a redelivery): the window "redeliver all that gave up" reads
    gave_up_at: datetime | None = None


class DeliveryAttempt(SQLModel, table=True):
    delivery_id: str = Field(foreign_key='delivery.id', ondelete='CASCADE', primary_key=True)
    number: int = Field(primary_key=True)  # 1, 2, ... across rounds
    at: datetime = Field(default_factory=utcnow)
    status_code: int | None = None  # None: no HTTP answer (timeout, refused, DNS)
    error: str | None = Field(default=None, max_length=500)
    duration_ms: int = 0
    redelivery: bool = False  # the first attempt of a round a person started (Redeliver, Test)
    # what the receiver answered (services/notifications/answers.py): its Content-Type and the first 2 KiB of its
    # body as inert text; None without an HTTP answer. Operators only: never in the list, never to builders
    answer_content_type: str | None = Field(default=None, max_length=200)
    answer_excerpt: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    answer_truncated: bool = False  # the body went on past the excerpt


# ---------------------------------------------------------------- API schemas
def _events(values: list[str]) -> list[str]:
    unknown = sorted(set(values) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f'unknown event(s) {", ".join(unknown)}; choose from {", ".join(EVENT_TYPES)}')
    if not values:
        raise ValueError('choose at least one event')
    return [event for event in EVENT_TYPES if event in values]  # canonical order, no duplicates


def _name(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip() or any(ord(ch) < 32 for ch in value):
        raise ValueError('must not be blank or hold control characters')
    return value.strip()


def _url(value: str | None) -> str | None:
    if value is None:
        return None

    reason = url_refusal(value)
    if reason:
        raise ValueError(reason)
    return value.strip()


class RuleCreate(SQLModel):
    model_config = {'extra': 'forbid'}
    name: str | None = Field(default=None, max_length=100)  # default: the URL's host
    url: str = Field(min_length=1, max_length=2000)
    format: NotificationFormat = 'runboard'
    events: list[str] = Field(default_factory=lambda: ['run.failed', 'run.timed_out', 'run.crashed'])
    enabled: bool = True

    _name = field_validator('name')(classmethod(lambda cls, v: _name(v)))
    _url = field_validator('url')(classmethod(lambda cls, v: _url(v)))
    _events = field_validator('events')(classmethod(lambda cls, v: _events(v)))


class RuleUpdate(SQLModel):
    model_config = {'extra': 'forbid'}
    name: str | None = Field(default=None, max_length=100)
    url: str | None = Field(default=None, min_length=1, max_length=2000)
    format: NotificationFormat | None = None
    events: list[str] | None = None
    enabled: bool | None = None
    # the rule's `version` as the editor read it: the edit is refused (409 edit_conflict) if it is no longer that;
    # left out, the edit applies to the rule as it is now
    version: int | None = Field(default=None, ge=1)

    _name = field_validator('name')(classmethod(lambda cls, v: _name(v)))
    _url = field_validator('url')(classmethod(lambda cls, v: _url(v)))
    _events = field_validator('events')(classmethod(lambda cls, v: v if v is None else _events(v)))


class RulePublic(SQLModel):
    id: str
    project_id: str
    name: str
    url: str  # builders see only its origin: a Slack webhook's path is its credential
    format: NotificationFormat
    events: list[str]
    enabled: bool
    version: int  # what an edit names to be refused if another changed the rule meanwhile
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime

    _utc = field_validator('created_at', 'updated_at')(classmethod(lambda cls, v: as_utc(v)))


class RuleCreated(RulePublic):
    """The answer to a create (or a new secret): the signing secret, shown this once."""

    secret: str


class AttemptPublic(SQLModel):
    number: int
    at: datetime
    status_code: int | None = None
    error: str | None = None
    duration_ms: int
    redelivery: bool = False

    _utc = field_validator('at')(classmethod(lambda cls, v: as_utc(v)))


class AnswerPublic(SQLModel):
    """What the receiver answered to one attempt (operators only): its Content-Type and the start of its body."""

    content_type: str | None = None
    excerpt: str  # the first 2 KiB, decoded with replacement, escape sequences and control characters removed
    truncated: bool = False  # the body went on past the excerpt (or stopped coming within the time allowed)


class AttemptDetail(AttemptPublic):
    answer: AnswerPublic | None = None  # operators: None when no HTTP answer came; builders: always None


class DeliveryPublic(SQLModel):
    id: str
    rule_id: str
    rule_name: str
    rule_enabled: bool = True  # switched off: a pending or retrying delivery waits until it is on again
    project_id: str
    event_id: str
    event_type: str
    run_id: str | None = None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = None  # pending or failed: when it is tried (again)
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None = None
    gave_up_at: datetime | None = None  # when it last gave up
    attempt_log: list[AttemptPublic] = []  # oldest first

    _utc = field_validator('next_attempt_at', 'created_at', 'updated_at', 'delivered_at', 'gave_up_at')(
        classmethod(lambda cls, v: as_utc(v))
    )


class DeliveryDetail(DeliveryPublic):
    payload: str  # the body as sent (as it will be sent, before the first attempt)
    attempt_log: list[AttemptDetail] = []  # type: ignore[assignment]  # oldest first, each with its answer
    answers_shown: bool = False  # the caller may read the receiver's answers (operators); builders never


# what "redeliver all that gave up" did with one delivery that gave up within its window: queued it, or skipped it
# because a server is sending it now, a redelivery of it waits or retries already, or one delivered it since
BulkOutcome = Literal['queued', 'in_flight', 'redelivery_pending', 'delivered_since', 'changed']


class BulkRedeliver(SQLModel):
    model_config = {'extra': 'forbid'}
    since: str | None = Field(default=None, max_length=64)  # 12h, 90m, 2d or an ISO 8601 time; default: 24 hours
    dry_run: bool = False  # only count: what a call would queue and skip, nothing changed


class BulkRedeliveryItem(SQLModel):
    id: str
    outcome: BulkOutcome


class BulkRedelivery(SQLModel):
    rule_id: str
    rule_enabled: bool  # false: the queued deliveries wait until the rule is switched on
    since: datetime  # the window's start: deliveries that gave up at or after it
    dry_run: bool
    queued: int  # queued now (dry_run: would be)
    skipped: int
    skipped_by_reason: dict[str, int]  # in_flight, redelivery_pending, delivered_since, changed
    deliveries: list[BulkRedeliveryItem]  # oldest first

    _utc = field_validator('since')(classmethod(lambda cls, v: as_utc(v)))


class DeliveryPage(SQLModel):
    items: list[DeliveryPublic]
    next_cursor: str | None = None
