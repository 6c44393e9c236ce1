"""The delivery log of a project's notification rules (newest first, keyset by id, with each delivery's
attempts), a delivery as sent, Redeliver (the same delivery, id and body, in a new round of attempts) and
Test (a `ping` delivery), and "redeliver all that gave up" of one rule. Reading is for everyone who sees the project;
Redeliver, the bulk one and Test for operators, and so is
what a receiver answered (its body's excerpt: a rule's URL may be an internal service, docs/notifications.md), which
only a delivery's detail carries, and only to operators."""

from __future__ import annotations

from typing import Any, get_args

from sqlalchemy import Engine, or_, update
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from app.core import ids
from app.core.errors import DomainError, not_found
from app.infra.db import session_scope
from app.models import (
    PING_EVENT,
    AnswerPublic,
    AttemptDetail,
    AttemptPublic,
    BulkOutcome,
    BulkRedelivery,
    BulkRedeliveryItem,
    Delivery,
    DeliveryAttempt,
    DeliveryDetail,
    DeliveryPage,
    DeliveryPublic,
    DeliveryStatus,
    NotificationRule,
    Project,
    as_utc,
    utcnow,
)
from app.services.identity.accounts import Principal
from app.services.notifications.outbox import deliveries_table, insert_deliveries
from app.services.notifications.payloads import EventFacts, body, from_stored
from app.services.notifications.rules import bulk_outcome
from app.services.notifications.webhooks import require_operator, visible_rule
from app.services.projects.visibility import get_visible, visible
from app.services.runs.timing import window_start

STATUSES = get_args(DeliveryStatus)


def _statuses(status: str | None) -> list[str]:
    wanted = [part.strip() for part in (status or '').split(',') if part.strip()]
    unknown = [part for part in wanted if part not in STATUSES]
    if unknown:
        raise DomainError(
            422, 'validation', f'status must be among {", ".join(STATUSES)} (comma-separated)', field='status'
        )
    return wanted


def _attempts(session: Session, delivery_ids: list[str]) -> dict[str, list[AttemptPublic]]:
    found: dict[str, list[AttemptPublic]] = {delivery_id: [] for delivery_id in delivery_ids}
    if not delivery_ids:
        return found
    rows = session.exec(
        select(DeliveryAttempt)
        .where(col(DeliveryAttempt.delivery_id).in_(delivery_ids))
        .order_by(col(DeliveryAttempt.delivery_id), col(DeliveryAttempt.number))
    ).all()
    for attempt in rows:
        found[attempt.delivery_id].append(AttemptPublic.model_validate(attempt.model_dump()))
    return found


def _public(delivery: Delivery, rule: NotificationRule, attempts: list[AttemptPublic]) -> dict[str, Any]:
    return {
        **delivery.model_dump(exclude={'facts', 'payload', 'claimed_by', 'claimed_until', 'round_start'}),
        'rule_name': rule.name,
        'rule_enabled': rule.enabled,
        'next_attempt_at': delivery.next_attempt_at if delivery.status in ('pending', 'failed', 'held') else None,
        'attempt_log': attempts,
    }


def list_deliveries(
    engine: Engine,
    principal: Principal,
    project_id: str,
    *,
    rule: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> DeliveryPage:
    statuses = _statuses(status)
    with Session(engine) as session:
        get_visible(session, project_id, principal)
        query = (
            select(Delivery, NotificationRule)
            .join(NotificationRule, col(NotificationRule.id) == col(Delivery.rule_id))
            .where(col(Delivery.project_id) == project_id)
        )
        if rule:
            query = query.where(col(Delivery.rule_id) == rule)
        if statuses:
            query = query.where(col(Delivery.status).in_(statuses))
        if cursor:
            query = query.where(col(Delivery.id) < cursor)
        rows = session.exec(query.order_by(col(Delivery.id).desc()).limit(limit + 1)).all()
        page = rows[:limit]
        attempts = _attempts(session, [delivery.id for delivery, _ in page])
        items = [DeliveryPublic.model_validate(_public(d, rule, attempts[d.id])) for d, rule in page]
    return DeliveryPage(items=items, next_cursor=page[-1][0].id if len(rows) > limit else None)


def _visible_delivery(session: Session, principal: Principal, delivery_id: str) -> tuple[Delivery, NotificationRule]:
    delivery = session.get(Delivery, delivery_id)
    project = session.get(Project, delivery.project_id) if delivery is not None else None
    if delivery is None or not visible(project, principal):
        raise not_found(f'delivery {delivery_id!r}')  # never reveal another team's deliveries
    rule = session.get(NotificationRule, delivery.rule_id)
    assert rule is not None  # the foreign key (a rule's deliveries go with it)
    return delivery, rule


def _answer(attempt: DeliveryAttempt) -> AnswerPublic | None:
    if attempt.answer_excerpt is None:
        return None
    return AnswerPublic(
        content_type=attempt.answer_content_type, excerpt=attempt.answer_excerpt, truncated=attempt.answer_truncated
    )


def _detailed_attempts(session: Session, delivery_id: str, *, answers: bool) -> list[AttemptDetail]:
    """A delivery's attempts, oldest first; with what the receiver answered when `answers` (operators)."""
    rows = session.exec(
        select(DeliveryAttempt)
        .where(col(DeliveryAttempt.delivery_id) == delivery_id)
        .order_by(col(DeliveryAttempt.number))
    ).all()
    # the attempt's public fields, and its answer only when asked: a builder's detail never holds the columns
    return [
        AttemptDetail.model_validate(
            {**AttemptPublic.model_validate(row.model_dump()).model_dump(), 'answer': _answer(row) if answers else None}
        )
        for row in rows
    ]


def get_delivery(engine: Engine, principal: Principal, delivery_id: str, *, base_url: str) -> DeliveryDetail:
    """A delivery with its attempts and its body (before its first attempt: the body it will send); to operators,
    each attempt with what the receiver answered."""
    answers = principal.is_operator
    with Session(engine) as session:
        delivery, rule = _visible_delivery(session, principal, delivery_id)
        payload = delivery.payload or body(from_stored(delivery.facts, base_url), rule.format)
        attempts = _detailed_attempts(session, delivery.id, answers=answers)
        shown = {**_public(delivery, rule, []), 'attempt_log': attempts, 'payload': payload, 'answers_shown': answers}
        return DeliveryDetail.model_validate(shown)


def redeliver(engine: Engine, principal: Principal, delivery_id: str) -> int:
    """Make a delivery due now in a new round of attempts (its id and body unchanged): a delivered or given-up
    one is sent again, a failing one at once instead of after its backoff. 409 while a server is sending it.
    Returns the attempts it had made before this round."""
    require_operator(principal, 'redeliver notifications')
    now = utcnow()
    with session_scope(engine) as session:
        attempts_before = _visible_delivery(session, principal, delivery_id)[0].attempts
        table = deliveries_table
        moved = session.connection().execute(
            update(table)
            .where(table.c.id == delivery_id, or_(table.c.claimed_until.is_(None), table.c.claimed_until < now))
            .values(status='pending', next_attempt_at=now, round_start=table.c.attempts, updated_at=now)
        )
        if moved.rowcount != 1:
            raise DomainError(409, 'delivery_in_flight', 'this delivery is being sent right now; try again shortly')
    return attempts_before


BULK_CHUNK = 500  # ids per conditional UPDATE (SQLite's bound parameters)


def redeliver_gave_up(
    engine: Engine, principal: Principal, project_id: str, rule_id: str, *, since: str | None, dry_run: bool = False
) -> BulkRedelivery:
    """Queue again, each in a new round (as Redeliver does, to be sent by the sender loop), the rule's deliveries that
    gave up at or after `since` (default: the last 24 hours) and still stand given up; say what was skipped and why
    (rules.bulk_outcome). Idempotent: the queueing is a compare-and-set on each row (still given up, not being sent),
    so a second call, or two at once on two servers, queues none of them twice while the first one's redeliveries
    wait or are sent. `dry_run`: the same counts, nothing changed (the page's confirmation says how many)."""
    require_operator(principal, 'redeliver notifications')
    now = utcnow()
    start = window_start(since, now)
    table = deliveries_table
    with session_scope(engine) as session:
        rule = visible_rule(session, principal, project_id, rule_id)
        conn = session.connection()
        rows = conn.execute(
            sql_select(table.c.id, table.c.status, table.c.claimed_until)
            .where(table.c.rule_id == rule.id, table.c.gave_up_at >= start)
            .order_by(table.c.id)
        ).all()
        outcomes: dict[str, BulkOutcome] = {
            row.id: bulk_outcome(
                status=row.status, claimed=row.claimed_until is not None and as_utc(row.claimed_until) >= now
            )
            for row in rows
        }
        chosen = [delivery_id for delivery_id, outcome in outcomes.items() if outcome == 'queued']
        if not dry_run:
            queued: set[str] = set()
            for at in range(0, len(chosen), BULK_CHUNK):
                queued.update(
                    conn.execute(
                        update(table)
                        .where(
                            table.c.id.in_(chosen[at : at + BULK_CHUNK]),
                            table.c.status == 'gave_up',
                            or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
                        )
                        .values(status='pending', next_attempt_at=now, round_start=table.c.attempts, updated_at=now)
                        .returning(table.c.id)
                    ).scalars()
                )
            for delivery_id in chosen:
                if delivery_id not in queued:  # another call queued it between the read and the update
                    outcomes[delivery_id] = 'redelivery_pending'
        skipped: dict[str, int] = {}
        for outcome in outcomes.values():
            if outcome != 'queued':
                skipped[outcome] = skipped.get(outcome, 0) + 1
        return BulkRedelivery(
            rule_id=rule.id,
            rule_enabled=rule.enabled,
            since=start,
            dry_run=dry_run,
            queued=sum(1 for outcome in outcomes.values() if outcome == 'queued'),
            skipped=sum(skipped.values()),
            skipped_by_reason=skipped,
            deliveries=[BulkRedeliveryItem(id=key, outcome=outcome) for key, outcome in outcomes.items()],
        )


def create_ping(engine: Engine, principal: Principal, project_id: str, rule_id: str) -> str:
    """A `ping` delivery for one rule (enabled or not), due now. Returns its id."""
    require_operator(principal, 'send test notifications')
    now = utcnow()
    with session_scope(engine) as session:
        rule = visible_rule(session, principal, project_id, rule_id)
        project = session.get(Project, project_id)
        assert project is not None  # visible_rule checked it
        event_id = ids.new_run_id(prefix='evt_')
        facts = EventFacts(
            event_id=event_id,
            type=PING_EVENT,
            created_at=now,
            base_url='',
            project={'id': project.id, 'name': project.name},
            rule={'id': rule.id, 'name': rule.name},
        )
        return insert_deliveries(session.connection(), [rule.id], facts, event_key=f'ping:{event_id}', now=now)[0]
