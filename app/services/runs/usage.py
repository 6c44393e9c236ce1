"""What a run's agent reported spending: the `::usage::` lines of its output (app/core/workflow_commands.py
`usage_of`), one `runusage` row each, written in the transaction that stores the lines (output_ingest.py), and
summed on read: per run (the run's `usage`), and per project for a UTC day or since a Reset (the AFK cost cap,
services/afk/costs.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from app.core.workflow_commands import Usage
from app.models import Project, Run, RunPublic, as_utc, utcnow
from app.models.usage import RunUsage, UsagePublic
from app.services.afk.rules import cap_stops_run, cost_window_start
from app.services.runs.timeline import append_events

usage_table = RunUsage.__table__  # type: ignore[attr-defined]
run_table = Run.__table__  # type: ignore[attr-defined]
project_table = Project.__table__  # type: ignore[attr-defined]


def record(
    conn: Connection, run_id: str, project_id: str, reports: Sequence[Usage], at: datetime | None = None
) -> None:
    if not reports:
        return
    at = at or utcnow()
    conn.execute(
        insert(usage_table),
        [
            {
                'run_id': run_id,
                'project_id': project_id,
                'at': at,
                'input_tokens': u.input_tokens,
                'output_tokens': u.output_tokens,
                'cost_usd': u.cost_usd,
                'model': u.model,
            }
            for u in reports
        ],
    )


def by_run(conn: Connection, run_ids: Iterable[str]) -> dict[str, UsagePublic]:
    """The summed usage of each of these runs that reported any (one query)."""
    ids = list(dict.fromkeys(run_ids))
    if not ids:
        return {}
    c = usage_table.c
    rows = conn.execute(
        select(c.run_id, c.input_tokens, c.output_tokens, c.cost_usd, c.model)
        .where(c.run_id.in_(ids))
        .order_by(c.run_id, c.id)
    ).all()
    result: dict[str, UsagePublic] = {}
    for run_id, tokens_in, tokens_out, cost, model in rows:
        seen = result.setdefault(run_id, UsagePublic())
        seen.input_tokens += int(tokens_in)
        seen.output_tokens += int(tokens_out)
        seen.cost_usd = round(seen.cost_usd + float(cost), 6)
        seen.model = model or seen.model
        seen.reports += 1
    return result


def annotate(conn: Connection, runs: Sequence[RunPublic]) -> None:
    """Fill `usage` of the runs that reported any (in place)."""
    found = by_run(conn, [run.id for run in runs])
    for run in runs:
        run.usage = found.get(run.id)


def afk_cost_since(conn: Connection, project_id: str, since: datetime, *, but_run: str | None = None) -> float:
    """The project's AFK runs' reported cost since `since` (what the daily cap compares); `but_run`: without that
    run's own."""
    c, r = usage_table.c, run_table.c
    query = (
        select(func.coalesce(func.sum(c.cost_usd), 0.0))
        .select_from(usage_table.join(run_table, r.id == c.run_id))  # AFK runs only: the kind decides
        .where(c.project_id == project_id, c.at >= since, r.kind == 'auto')
    )
    if but_run is not None:
        query = query.where(c.run_id != but_run)
    return round(float(conn.execute(query).scalar_one() or 0.0), 6)


def stop_if_over_cap(conn: Connection, run_id: str, project_id: str, now: datetime | None = None) -> bool:
    """After an AFK run reported usage: if its project says the daily cost cap stops running AFK runs
    (`afk_cost_cap_stops_runs`) and the day's AFK cost reached the cap, ask the run to stop (its engine's heartbeat
    ends it `stopped`, as a person's Stop: neutral for the counter, its issue parked), with a line saying why.
    True when this call asked."""
    now = now or utcnow()
    row = conn.execute(
        select(
            project_table.c.afk_cost_cap_usd_per_day,
            project_table.c.afk_cost_cap_stops_runs,
            project_table.c.afk_cost_cap_reset_at,
            run_table.c.kind,
            run_table.c.user_id,
        )
        .select_from(run_table.join(project_table, project_table.c.id == run_table.c.project_id))
        .where(run_table.c.id == run_id)
    ).first()
    if row is None or row.kind != 'auto' or not row.afk_cost_cap_stops_runs or row.afk_cost_cap_usd_per_day is None:
        return False
    since = cost_window_start(now, as_utc(row.afk_cost_cap_reset_at))
    spent = afk_cost_since(conn, project_id, since)
    by_a_person = row.user_id is not None  # the loop's own runs have nobody's id
    others = afk_cost_since(conn, project_id, since, but_run=run_id) if by_a_person else spent
    if not cap_stops_run(
        cap_usd=row.afk_cost_cap_usd_per_day, spent_usd=spent, spent_by_others_usd=others, by_a_person=by_a_person
    ):
        return False
    asked = conn.execute(
        update(run_table)
        .where(run_table.c.id == run_id, run_table.c.status == 'running', run_table.c.stop_requested_at.is_(None))
        .values(stop_requested_at=now)
    ).rowcount
    if asked:
        cap = row.afk_cost_cap_usd_per_day
        append_events(
            conn,
            run_id,
            [('status', f"stopping: today's AFK cost ${spent:,.2f} reached the project's cap of ${cap:,.2f}")],
        )
    return bool(asked)
