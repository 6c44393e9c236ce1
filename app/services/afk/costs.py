"""The AFK loop's daily cost cap (docs/afk.md, "Cost"): what a project's AFK runs reported spending today (since
00:00 UTC or its last Reset), whether that reached `afk_cost_cap_usd_per_day` (rules.is_cost_capped), and the
moment it did: `afk_cost_capped_on` set to the day by compare-and-set, so `project.cost_capped` is written once
per day whichever sweep (or server) saw it first, in the same transaction. Reset clears it and restarts the day's
count; the next UTC day starts a new count by itself."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from app.core import ids
from app.models import as_utc
from app.services.afk.rules import cost_window_start, is_cost_capped, utc_day
from app.services.notifications.payloads import EventFacts
from app.services.runs import usage as run_usage

CAPPED_EVENT = 'project.cost_capped'


def spent_today(conn: Connection, project_id: str, reset_at: datetime | None, now: datetime) -> float:
    return run_usage.afk_cost_since(conn, project_id, cost_window_start(now, as_utc(reset_at)))


def capped(conn: Connection, project: Any, now: datetime) -> tuple[bool, float]:
    """(has the project's AFK cost reached its cap today?, what it spent). No cap: (False, 0) without a query."""
    cap = project.afk_cost_cap_usd_per_day
    if cap is None:
        return False, 0.0
    spent = spent_today(conn, project.id, project.afk_cost_cap_reset_at, now)
    return is_cost_capped(cap_usd=cap, spent_usd=spent), spent


def mark_capped(
    conn: Connection, *, project_id: str, project_name: str, cap: float, spent: float, now: datetime
) -> bool:
    """Record that the cap was reached today, once: True for the caller that recorded it (and wrote the
    `project.cost_capped` deliveries in the same transaction), False if it was recorded already."""
    day = utc_day(now)
    changed = conn.execute(
        text(
            'UPDATE project SET afk_cost_capped_on = :day WHERE id = :p '
            'AND (afk_cost_capped_on IS NULL OR afk_cost_capped_on <> :day)'
        ),
        {'day': day, 'p': project_id},
    ).rowcount
    if not changed:
        return False
    # imported here: notifications.outbox imports the run reads, which import the engine, which imports the AFK loop
    from app.services.notifications import outbox

    targets = [rule['id'] for rule in outbox.enabled_rules(conn, project_id) if CAPPED_EVENT in rule['events']]
    if targets:
        facts = EventFacts(
            event_id=ids.new_run_id(prefix='evt_'),
            type=CAPPED_EVENT,
            created_at=now,
            base_url='',
            project={'id': project_id, 'name': project_name},
            afk={'cap_usd': cap, 'spent_usd': round(spent, 6), 'day': day, 'resumes_at': _next_midnight(now)},
        )
        # the key holds per day and per Reset: a Reset then a second cap the same day notifies again
        outbox.insert_deliveries(
            conn, targets, facts, event_key=f'{CAPPED_EVENT}:{project_id}:{day}:{now.isoformat()}', now=now
        )
    return True


def _next_midnight(now: datetime) -> str:
    start = cost_window_start(now, None)
    return (start + timedelta(days=1)).isoformat().replace('+00:00', 'Z')
