"""Run history for charts: a project's newest finished runs with their durations, its finished runs per day
with their outcomes (the success rate per day), and the newest finished runs of many projects in one query
(the dashboard's sparklines).

A run belongs to the day it was created on (in the caller's UTC offset), as GitHub Actions dates a workflow
run by its trigger and as the runs list's time range reads it. So the window is a range on `created_at`,
read through the index on (project_id, created_at): the per-day query touches only the window's runs,
however many older ones the project has (bench/history.py). Only finished runs count: queued and running
ones have no outcome yet. Visibility is the runs list's: a project of another team does not exist (404).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, Row, func, literal_column, union_all
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.core.errors import DomainError
from app.models import TERMINAL_STATUSES, CommitInfo, Project, Run, as_utc
from app.services.identity.accounts import Principal
from app.services.projects import visibility

FAILED_STATUSES = ('failed', 'timed_out', 'crashed')
DEFAULT_LIMIT, MAX_LIMIT = 50, 500
DEFAULT_DAYS, MAX_DAYS = 30, 90
MAX_UTC_OFFSET_MINUTES = 14 * 60
BATCH_DEFAULT_LIMIT, BATCH_MAX_LIMIT, BATCH_MAX_PROJECTS = 20, 100, 100


class HistoryRun(BaseModel):
    id: str
    status: str
    branch_name: str
    kind: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None  # finished_at - started_at; None for a run stopped before it started
    # what its processes used (their cgroup's count, docs/security.md); None where not measured
    peak_memory_bytes: int | None = None
    cpu_seconds: float | None = None
    memory_max_bytes: int | None = None  # the memory limit it ran under
    commit_title: str | None = None  # its commit's, once read (services/repositories/commits.py): the bar's tooltip


class Outcomes(BaseModel):
    finished: int = 0
    succeeded: int = 0
    failed: int = 0  # failed, timed_out and crashed
    stopped: int = 0  # a person's Stop: no verdict on the code, so not part of the success rate
    success_rate: float | None = None  # succeeded / (succeeded + failed); None without any verdict


class HistoryDay(Outcomes):
    day: date


class ProjectHistory(BaseModel):
    project_id: str
    branch: str | None
    utc_offset: int  # minutes east of UTC the days are counted in
    runs: list[HistoryRun]  # the newest finished runs, newest first
    days: list[HistoryDay]  # every day of the window, oldest first (days without runs are zeros)
    totals: Outcomes  # the whole window


class RecentRuns(BaseModel):
    project_id: str
    runs: list[HistoryRun]  # newest first


class RecentRunsPage(BaseModel):
    items: list[RecentRuns]  # in the order asked; projects the caller cannot see are left out


# ---------------------------------------------------------------- pure
def outcome_of(status: str) -> str:
    """succeeded | failed | stopped: the three colours a finished run is drawn in."""
    if status == 'succeeded':
        return 'succeeded'
    return 'failed' if status in FAILED_STATUSES else 'stopped'


def outcomes(by_status: Mapping[str, int]) -> Outcomes:
    counts = {'succeeded': 0, 'failed': 0, 'stopped': 0}
    for status, count in by_status.items():
        counts[outcome_of(status)] += count
    verdicts = counts['succeeded'] + counts['failed']
    rate = round(counts['succeeded'] / verdicts, 4) if verdicts else None
    return Outcomes(finished=sum(counts.values()), success_rate=rate, **counts)


def day_starts(now: datetime, days: int, utc_offset: int) -> list[tuple[date, datetime]]:
    """The window's local days, oldest first (today and the days-1 before it), each with the UTC moment it
    starts; one more entry closes the last day."""
    local_today = (now.astimezone(UTC) + timedelta(minutes=utc_offset)).date()
    first = local_today - timedelta(days=days - 1)
    shift = timedelta(minutes=utc_offset)
    starts = []
    for offset in range(days + 1):
        day = first + timedelta(days=offset)
        starts.append((day, datetime(day.year, day.month, day.day, tzinfo=UTC) - shift))
    return starts


def day_series(rows: Iterable[Sequence[Any]], days: list[date]) -> list[HistoryDay]:
    """(day index, status, count) rows -> one entry per day, oldest first, zeros where nothing finished."""
    per_day: dict[int, dict[str, int]] = {}
    for index, status, count in rows:
        per_day.setdefault(int(index), {})[status] = int(count)
    return [HistoryDay(day=day, **outcomes(per_day.get(index, {})).model_dump()) for index, day in enumerate(days)]


def duration_seconds(started: datetime | None, finished: datetime | None) -> float | None:
    if started is None or finished is None:
        return None
    return max(0.0, round((as_utc(finished) - as_utc(started)).total_seconds(), 3))


def check_bounds(*, limit: int, days: int = DEFAULT_DAYS, utc_offset: int = 0, max_limit: int = MAX_LIMIT) -> None:
    """The route validates its query; a direct caller gets the same 422 for the same mistake."""
    if not 1 <= limit <= max_limit:
        raise DomainError(422, 'validation', f'limit must be between 1 and {max_limit}.', field='limit')
    if not 1 <= days <= MAX_DAYS:
        raise DomainError(422, 'validation', f'days must be between 1 and {MAX_DAYS}.', field='days')
    if abs(utc_offset) > MAX_UTC_OFFSET_MINUTES:
        raise DomainError(
            422, 'validation', 'utc_offset is minutes east of UTC, at most 840 either way.', field='utc_offset'
        )


# ---------------------------------------------------------------- reads
_COLUMNS = (
    col(Run.id),
    col(Run.status),
    col(Run.branch_name),
    col(Run.kind),
    col(Run.created_at),
    col(Run.started_at),
    col(Run.finished_at),
    col(Run.peak_memory_bytes),
    col(Run.cpu_seconds),
    col(Run.memory_max_bytes),
)
# a project's history names each run's commit (its bars' tooltips); the dashboard's sparklines do not read it
_COMMIT_TITLE = sa_select(col(CommitInfo.title)).where(col(CommitInfo.sha) == col(Run.commit_sha)).scalar_subquery()


def _history_run(row: Sequence[Any], title: str | None = None) -> HistoryRun:
    run_id, status, branch, kind, created, started, finished, peak, cpu, memory_max = row[:10]
    return HistoryRun(
        id=run_id,
        status=status,
        branch_name=branch,
        kind=kind,
        created_at=as_utc(created),
        started_at=as_utc(started),
        finished_at=as_utc(finished),
        duration_seconds=duration_seconds(started, finished),
        peak_memory_bytes=peak,
        cpu_seconds=cpu,
        memory_max_bytes=memory_max,
        commit_title=title,
    )


def _per_day(conn: Connection, finished: list[Any], starts: list[tuple[date, datetime]]) -> Sequence[Row]:
    """(day index, status, count) of the finished runs created on each day: one index range per day, counted
    by status, in one statement (no per-row date arithmetic; the same SQL on every backend)."""
    return conn.execute(
        union_all(
            *(
                sa_select(literal_column(str(index)).label('day_index'), col(Run.status), func.count())
                .where(*finished, col(Run.created_at) >= start, col(Run.created_at) < end)
                .group_by(col(Run.status))
                for index, ((_, start), (_, end)) in enumerate(itertools.pairwise(starts))
            )
        )
    ).all()


def project_history(
    engine: Engine,
    principal: Principal,
    project_id: str,
    *,
    branch: str | None = None,
    limit: int = DEFAULT_LIMIT,
    days: int = DEFAULT_DAYS,
    utc_offset: int = 0,
    now: datetime | None = None,
) -> ProjectHistory:
    check_bounds(limit=limit, days=days, utc_offset=utc_offset)
    starts = day_starts(now or datetime.now(UTC), days, utc_offset)
    with Session(engine) as session:
        visibility.get_visible(session, project_id, principal)
        finished = [col(Run.project_id) == project_id, col(Run.status).in_(TERMINAL_STATUSES)]
        if branch:
            finished.append(col(Run.branch_name) == branch)
        conn = session.connection()
        newest = conn.execute(
            sa_select(*_COLUMNS, _COMMIT_TITLE).where(*finished).order_by(col(Run.id).desc()).limit(limit)
        ).all()
        per_day = _per_day(conn, finished, starts)
    totals: dict[str, int] = {}
    for _, status, count in per_day:
        totals[status] = totals.get(status, 0) + int(count)
    return ProjectHistory(
        project_id=project_id,
        branch=branch or None,
        utc_offset=utc_offset,
        runs=[_history_run(row, title=row[10]) for row in newest],
        days=day_series(per_day, [day for day, _ in starts[:-1]]),
        totals=outcomes(totals),
    )


def recent_runs(
    engine: Engine, principal: Principal, project_ids: Sequence[str], *, limit: int = BATCH_DEFAULT_LIMIT
) -> RecentRunsPage:
    """The newest `limit` finished runs of each project, in one statement: a UNION ALL of one bounded read
    per project, each walking the (project_id, id) index backwards and stopping after `limit` rows."""
    check_bounds(limit=limit, max_limit=BATCH_MAX_LIMIT)
    wanted = list(dict.fromkeys(p for p in project_ids if p))
    if not wanted or len(wanted) > BATCH_MAX_PROJECTS:
        raise DomainError(
            422, 'validation', f'Name 1 to {BATCH_MAX_PROJECTS} projects (project=a,b,c).', field='project'
        )
    with Session(engine) as session:
        visible = set(
            session.exec(
                select(col(Project.id)).where(col(Project.id).in_(wanted), col(Project.team_id).in_(principal.team_ids))
            ).all()
        )
        shown = [p for p in wanted if p in visible]
        runs: dict[str, list[HistoryRun]] = {p: [] for p in shown}
        if shown:
            parts = [
                sa_select(*_COLUMNS, col(Run.project_id))
                .where(col(Run.project_id) == project_id, col(Run.status).in_(TERMINAL_STATUSES))
                .order_by(col(Run.id).desc())
                .limit(limit)
                .subquery()
                for project_id in shown
            ]
            statement = union_all(*(sa_select(*part.c) for part in parts))
            for row in session.connection().execute(statement):
                runs[row[10]].append(_history_run(row))
    for items in runs.values():
        items.sort(key=lambda run: run.id, reverse=True)
    return RecentRunsPage(items=[RecentRuns(project_id=p, runs=runs[p]) for p in shown])
