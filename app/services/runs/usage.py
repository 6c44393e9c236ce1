"""What a run's agent reported spending: the `::usage::` lines of its output (app/core/workflow_commands.py
`usage_of`), one `runusage` row each, written in the transaction that stores the lines (output_ingest.py), and
summed on read: per run (the run's `usage`), and per project for a UTC day or since a Reset (the AFK cost cap,
services/afk/costs.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, func, insert, select

from app.core.workflow_commands import Usage
from app.models import Run, RunPublic, utcnow
from app.models.usage import RunUsage, UsagePublic

usage_table = RunUsage.__table__  # type: ignore[attr-defined]
run_table = Run.__table__  # type: ignore[attr-defined]


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


def afk_cost_since(conn: Connection, project_id: str, since: datetime) -> float:
    """The project's AFK runs' reported cost since `since` (what the daily cap compares)."""
    c, r = usage_table.c, run_table.c
    total = conn.execute(
        select(func.coalesce(func.sum(c.cost_usd), 0.0))
        .select_from(usage_table.join(run_table, r.id == c.run_id))  # AFK runs only: the kind decides
        .where(c.project_id == project_id, c.at >= since, r.kind == 'auto')
    ).scalar_one()
    return round(float(total or 0.0), 6)
