"""How servers share the delivery queue in the database: a server claims due deliveries, a fair share per rule
(fair_share.py), with an UPDATE whose row locks PostgreSQL takes with FOR UPDATE SKIP LOCKED, and SQLite's BEGIN
IMMEDIATE serialises, so two servers never send one attempt twice; a claim lapses after `lease` seconds (a server
that died mid-send), and every attempt is written with its outcome before the claim is let go, so a restart loses
nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, insert, or_, select, update

from app.infra.db import read_only, session_scope
from app.models import DUE_STATUSES, DeliveryAttempt, as_utc, utcnow
from app.services.notifications.answers import Answer
from app.services.notifications.fair_share import DueDelivery, to_claim
from app.services.notifications.outbox import deliveries_table as deliveries
from app.services.notifications.outbox import rules_table as rules
from app.services.notifications.payloads import body, from_stored
from app.services.notifications.rules import AttemptVerdict

attempts_table: Table = DeliveryAttempt.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Claimed:
    """A delivery this server holds, with what its attempt needs."""

    id: str
    event_type: str
    attempts: int  # before this attempt
    round_start: int
    payload: str
    url: str
    secret_encrypted: str
    previous_secret_encrypted: str | None = None  # signs too until previous_secret_until (a rotation's grace)
    previous_secret_until: datetime | None = None

    @property
    def attempt_in_round(self) -> int:
        return self.attempts + 1 - self.round_start

    @property
    def starts_round(self) -> bool:
        """The first attempt after a Redeliver (a person asked for it)."""
        return self.attempts == self.round_start > 0


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: int
    retry_after: float | None = None
    answer: Answer | None = None  # what the receiver answered (None: no HTTP answer, or its body was not kept)


def _free(now: datetime) -> Any:
    return or_(deliveries.c.claimed_until.is_(None), deliveries.c.claimed_until < now)


def _claim(conn: Connection, ids: Any, me: str, until: datetime) -> list[str]:
    statement = (
        update(deliveries)
        .where(deliveries.c.id.in_(ids))
        .values(claimed_by=me, claimed_until=until)
        .returning(deliveries.c.id)
    )
    return list(conn.execute(statement).scalars())


def _in_flight_by_rule(conn: Connection, me: str, now: datetime) -> dict[str, int]:
    """How many attempts `me` has under way per rule (its claims that have not lapsed)."""
    rows = conn.execute(
        select(deliveries.c.rule_id, func.count())
        .where(deliveries.c.claimed_by == me, deliveries.c.claimed_until >= now)
        .group_by(deliveries.c.rule_id)
    ).all()
    return {rule_id: count for rule_id, count in rows}


def _due_candidates(conn: Connection, now: datetime, *, per_rule: int, rows: int) -> list[DueDelivery]:
    """Unclaimed due deliveries of enabled rules, oldest due first, only each rule's `per_rule` oldest: a rule with a
    long backlog does not crowd the others out of the `rows` read."""
    ranked = (
        select(
            deliveries.c.id,
            deliveries.c.rule_id,
            deliveries.c.next_attempt_at,
            func.row_number()
            .over(partition_by=deliveries.c.rule_id, order_by=(deliveries.c.next_attempt_at, deliveries.c.id))
            .label('rank'),
        )
        .join(rules, rules.c.id == deliveries.c.rule_id)
        .where(deliveries.c.status.in_(DUE_STATUSES), deliveries.c.next_attempt_at <= now, _free(now), rules.c.enabled)
        .subquery()
    )
    query = (
        select(ranked.c.id, ranked.c.rule_id)
        .where(ranked.c.rank <= per_rule)
        .order_by(ranked.c.next_attempt_at, ranked.c.id)
        .limit(rows)
    )
    return [DueDelivery(row.id, row.rule_id) for row in conn.execute(query)]


def claim_due(engine: Engine, me: str, *, base_url: str, limit: int, per_rule: int, lease: float) -> list[Claimed]:
    """Due deliveries of enabled rules, oldest due first, at most `limit`, and per rule at most `per_rule` under way
    at `me` (fair_share.py); each claimed by `me` alone. The choice is read first; the claim is then a compare-and-set
    on each chosen row (still due and unclaimed, and on PostgreSQL not locked by another server's claim right now),
    so a row another server claimed in between is left to it."""
    now = utcnow()
    with session_scope(engine) as session:
        conn = session.connection()
        in_flight = _in_flight_by_rule(conn, me, now)
        # every row a rule at its share contributes is passed over: read enough to still find `limit` others
        rows = limit + per_rule * len(in_flight)
        chosen = to_claim(
            _due_candidates(conn, now, per_rule=per_rule, rows=rows), in_flight, limit=limit, per_rule=per_rule
        )
        if not chosen:
            return []
        still_free = (
            select(deliveries.c.id)
            .where(
                deliveries.c.id.in_(chosen),
                deliveries.c.status.in_(DUE_STATUSES),
                deliveries.c.next_attempt_at <= now,
                _free(now),
            )
            .with_for_update(skip_locked=True)  # PostgreSQL; SQLite renders nothing (BEGIN IMMEDIATE serialises)
        )
        claimed = _claim(conn, still_free.scalar_subquery(), me, now + timedelta(seconds=lease))
        return _load(conn, claimed, base_url)


def claim_one(engine: Engine, me: str, delivery_id: str, *, base_url: str, lease: float) -> Claimed | None:
    """This delivery now (Test, Redeliver), if it waits for an attempt and no server is sending it."""
    now = utcnow()
    with session_scope(engine) as session:
        conn = session.connection()
        statement = (
            update(deliveries)
            .where(deliveries.c.id == delivery_id, deliveries.c.status.in_(DUE_STATUSES), _free(now))
            .values(claimed_by=me, claimed_until=now + timedelta(seconds=lease))
            .returning(deliveries.c.id)
        )
        claimed = list(conn.execute(statement).scalars())
        found = _load(conn, claimed, base_url)
    return found[0] if found else None


def _load(conn: Connection, ids: list[str], base_url: str) -> list[Claimed]:
    """The claimed rows with their rule; a body not rendered yet is rendered now, in the rule's format, and kept."""
    if not ids:
        return []
    rows = conn.execute(
        select(
            deliveries.c.id,
            deliveries.c.event_type,
            deliveries.c.attempts,
            deliveries.c.round_start,
            deliveries.c.facts,
            deliveries.c.payload,
            rules.c.url,
            rules.c.format,
            rules.c.secret_encrypted,
            rules.c.previous_secret_encrypted,
            rules.c.previous_secret_until,
        )
        .join(rules, rules.c.id == deliveries.c.rule_id)
        .where(deliveries.c.id.in_(ids))
        .order_by(deliveries.c.id)
    ).all()
    found = []
    for row in rows:
        payload = row.payload
        if payload is None:
            payload = body(from_stored(row.facts, base_url), row.format)
            conn.execute(update(deliveries).where(deliveries.c.id == row.id).values(payload=payload))
        found.append(
            Claimed(
                row.id,
                row.event_type,
                row.attempts,
                row.round_start,
                payload,
                row.url,
                row.secret_encrypted,
                row.previous_secret_encrypted,
                as_utc(row.previous_secret_until) if row.previous_secret_until else None,
            )
        )
    return found


def record_attempt(engine: Engine, me: str, claimed: Claimed, result: AttemptResult, verdict: AttemptVerdict) -> bool:
    """The attempt and its delivery's new state, in one transaction; the claim is let go. Only while `me` holds the
    claim: a sender whose lease ran out (a stalled server) does not overwrite the attempt of the server that took
    the delivery over, nor let go of its claim. False when it did not hold it."""
    now = utcnow()
    values: dict[str, Any] = {
        'attempts': deliveries.c.attempts + 1,
        'status': verdict.status,
        'next_attempt_at': now + timedelta(seconds=verdict.retry_in) if verdict.retry_in is not None else None,
        'last_status_code': result.status_code,
        'last_error': result.error,
        'claimed_by': None,
        'claimed_until': None,
        'updated_at': now,
    }
    if verdict.status == 'delivered':
        values['delivered_at'] = now
    elif verdict.status == 'gave_up':
        values['gave_up_at'] = now  # the window of "redeliver all that gave up"
    with session_scope(engine) as session:
        conn = session.connection()
        held = (deliveries.c.id == claimed.id, deliveries.c.claimed_by == me)
        number = conn.execute(
            update(deliveries).where(*held).values(**values).returning(deliveries.c.attempts)
        ).scalar()
        if number is None:  # its rule was deleted meanwhile, or its claim went to another server
            return False
        conn.execute(
            insert(attempts_table).values(
                delivery_id=claimed.id,
                number=number,
                at=now,
                status_code=result.status_code,
                error=result.error,
                duration_ms=result.duration_ms,
                redelivery=claimed.starts_round,
                answer_content_type=result.answer.content_type if result.answer else None,
                answer_excerpt=result.answer.excerpt if result.answer else None,
                answer_truncated=result.answer.truncated if result.answer else False,
            )
        )
    return True


def release_claims(engine: Engine, me: str, delivery_ids: list[str]) -> None:
    """A server stopping mid-send lets go of what it holds (the next server tries those at once, not after the
    lease; the receiver may have had them: delivery is at least once)."""
    with session_scope(engine) as session:
        session.connection().execute(
            update(deliveries)
            .where(deliveries.c.id.in_(delivery_ids), deliveries.c.claimed_by == me)
            .values(claimed_by=None, claimed_until=None)
        )


def seconds_until_due(engine: Engine, me: str, *, per_rule: int, cap: float) -> float:
    """How long until the soonest unclaimed delivery `me` may claim is due (0 when one is), at most `cap`: of an
    enabled rule that has fewer than `per_rule` attempts under way at `me` (a rule at its share waits for one of
    them to end, which wakes the sender, not for a busy poll)."""
    now = utcnow()
    at_share = (
        select(deliveries.c.rule_id)
        .where(deliveries.c.claimed_by == me, deliveries.c.claimed_until >= now)
        .group_by(deliveries.c.rule_id)
        .having(func.count() >= per_rule)
    )
    query = (
        select(func.min(deliveries.c.next_attempt_at))
        .join(rules, rules.c.id == deliveries.c.rule_id)
        .where(
            deliveries.c.status.in_(DUE_STATUSES),
            _free(now),
            rules.c.enabled,
            deliveries.c.rule_id.not_in(at_share.scalar_subquery()),
        )
    )
    with read_only(engine).connect() as conn:
        soonest = conn.execute(query).scalar()
    if soonest is None:
        return cap
    return max(0.0, min(cap, (as_utc(soonest) - now).total_seconds()))
