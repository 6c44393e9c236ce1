"""The AFK loop's daily cost cap (docs/afk.md, "Cost"): what a project's AFK runs reported spending today (since
00:00 UTC or its last Reset), whether that reached `afk_cost_cap_usd_per_day` (rules.is_cost_capped), and the
moment it did: `afk_cost_capped_on` set to the day by compare-and-set, so `project.cost_capped` is written once
per day whichever sweep (or server) saw it first, in the same transaction. Reset clears it and restarts the day's
count; the next UTC day starts a new count by itself."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, select, text
from sqlmodel import Session

from app.core import ids
from app.models import as_utc
from app.models.usage import CostDay, CostIssue, ProjectCosts
from app.services.afk.rules import cost_window_start, is_cost_capped, utc_day
from app.services.identity.accounts import Principal
from app.services.notifications import outbox
from app.services.notifications.payloads import EventFacts
from app.services.projects import manage
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


def today_against_cap(conn: Connection, project: Any, now: datetime) -> tuple[float, bool]:
    """(today's AFK cost, has it reached the cap?): with a cap, since 00:00 UTC or the last Reset (what the cap
    compares); without one, since 00:00 UTC."""
    if project.afk_cost_cap_usd_per_day is None:
        return spent_today(conn, project.id, None, now), False
    is_capped, spent = capped(conn, project, now)
    return spent, is_capped


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


def afk_usage_rows(conn: Connection, project_id: str, since: datetime) -> list[Row]:
    """The `::usage::` reports of the project's AFK runs since `since`, oldest first:
    (at, cost_usd, run_id, issue_number, issue_title)."""
    u, r = run_usage.usage_table.c, run_usage.run_table.c
    return list(
        conn.execute(
            select(u.at, u.cost_usd, u.run_id, r.issue_number, r.issue_title)
            .select_from(run_usage.usage_table.join(run_usage.run_table, r.id == u.run_id))
            .where(u.project_id == project_id, r.kind == 'auto', u.at >= since)
            .order_by(u.at, u.id)
        ).all()
    )


def project_costs(engine: Engine, principal: Principal, project_id: str, *, days: int, now: datetime) -> ProjectCosts:
    """A project's AFK cost per UTC day (the last `days`, oldest first, empty days too) and per issue (the costliest
    first), and today's against the cap (GET /afk/costs/{project_id}; the project page's charts)."""
    with Session(engine) as session:
        project = manage.get_visible(session, project_id, principal)
        conn = session.connection()
        first_day = cost_window_start(now, None) - timedelta(days=days - 1)
        rows = afk_usage_rows(conn, project.id, first_day)
        today, is_capped = today_against_cap(conn, project, now)
    per_day: dict[str, list] = {(first_day + timedelta(days=i)).date().isoformat(): [0.0, set()] for i in range(days)}
    per_issue: dict[int, list] = {}
    for at, cost, run_id, number, title in rows:
        day = per_day.get(utc_day(as_utc(at) or now))
        if day is not None:
            day[0] += float(cost)
            day[1].add(run_id)
        if number is not None:
            issue = per_issue.setdefault(int(number), [0.0, set(), title])
            issue[0] += float(cost)
            issue[1].add(run_id)
    return ProjectCosts(
        days=[CostDay(day=d, cost_usd=round(v[0], 6), runs=len(v[1])) for d, v in per_day.items()],
        issues=sorted(
            (
                CostIssue(issue_number=n, issue_title=v[2], cost_usd=round(v[0], 6), runs=len(v[1]))
                for n, v in per_issue.items()
            ),
            key=lambda item: (-item.cost_usd, item.issue_number),
        ),
        today_usd=today,
        cap_usd=project.afk_cost_cap_usd_per_day,
        capped=is_capped,
    )
