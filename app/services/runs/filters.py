"""The runs list's statuses, time range, text search and retry links (and an AFK run's issue taken up again), as
conditions on run columns.

Run ids start with their creation time (app/core/ids.py), so a time range is an id range: the list
keeps reading the primary key (or a (filter, id) index) in id order, however many runs the table holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, func, or_
from sqlmodel import Session, col, select

from app.core.errors import DomainError
from app.core.ids import RUN_PREFIX, time_prefix
from app.models import CommitInfo, Run
from app.models.schemas import RunPublic
from app.models.vocabulary import APPROVAL_WAITING, AWAITING_APPROVAL, RunKind

MAX_QUERY_CHARS = 200


def _invalid(message: str) -> DomainError:
    return DomainError(422, 'validation', message)


def status_condition(statuses: list[str]) -> ColumnElement[bool]:
    """Runs in any of `statuses`; `awaiting_approval` among them names the delayed runs that wait for an operator."""
    plain = [status for status in statuses if status != AWAITING_APPROVAL]
    conditions: list[ColumnElement[bool]] = [col(Run.status).in_(plain)] if plain else []
    if AWAITING_APPROVAL in statuses:
        conditions.append(and_(col(Run.status) == 'delayed', col(Run.approval) == APPROVAL_WAITING))
    return or_(*conditions)


def parse_moment(value: str, *, end_of_day: bool) -> datetime:
    """'2026-11-22' or an ISO datetime; a bare date as the end of a range means the end of that day (UTC)."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            moment = datetime.combine(day + timedelta(days=1) if end_of_day else day, time(), UTC)
            return moment
        moment = datetime.fromisoformat(text.replace('Z', '+00:00'))
    except ValueError:
        raise _invalid(f'{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time.') from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def id_range(since: str | None, until: str | None, *, prefix: str = RUN_PREFIX) -> tuple[str | None, str | None]:
    """(lowest id, id bound excluded) of ids minted in [since, until); until as a date includes that day."""
    start = parse_moment(since, end_of_day=False) if since else None
    end = parse_moment(until, end_of_day=True) if until else None
    if start and end and end <= start:
        raise _invalid('The end of the time range is before its start.')
    return (prefix + time_prefix(start) if start else None, prefix + time_prefix(end) if end else None)


def created_conditions(since: str | None, until: str | None) -> list[ColumnElement[bool]]:
    """Runs created in [since, until). The id bounds let an index read just that range; a delayed run's id is minted
    at its due time (later than its creation), so below `until` it is taken by its created_at."""
    lowest, above = id_range(since, until)
    conditions: list[ColumnElement[bool]] = []
    if lowest:  # every run created at `since` or later has an id at or above it (a delayed one's is later still)
        conditions += [col(Run.id) >= lowest, col(Run.created_at) >= parse_moment(since or '', end_of_day=False)]
    if above:
        end = parse_moment(until or '', end_of_day=True)
        conditions += [col(Run.created_at) < end, or_(col(Run.id) < above, col(Run.run_at).is_not(None))]
    return conditions


def search_condition(q: str) -> ColumnElement[bool]:
    """Case-insensitive substring of the run id, the branch, the issue or pull request title, or the commit's title
    (once read: services/repositories/commits.py); or the start of the commit's sha, as people paste one."""
    needle = q.strip()
    if not needle:
        raise _invalid('The search text is empty.')
    if len(needle) > MAX_QUERY_CHARS:
        raise _invalid(f'The search text is longer than {MAX_QUERY_CHARS} characters.')
    return or_(
        col(Run.id).icontains(needle, autoescape=True),
        col(Run.branch_name).icontains(needle, autoescape=True),
        col(Run.issue_title).icontains(needle, autoescape=True),
        col(Run.pr_title).icontains(needle, autoescape=True),
        col(Run.commit_sha).istartswith(needle, autoescape=True),
        col(CommitInfo.title).icontains(needle, autoescape=True),  # the runs list joins commit_info (runs/reads.py)
    )


def retried_by(session: Session, run_ids: Iterable[str]) -> dict[str, list[str]]:
    """run id -> the runs that retry it, oldest first (index ix_run_retry_of)."""
    ids = list(run_ids)
    if not ids:
        return {}
    found: dict[str, list[str]] = {}
    rows = session.exec(
        select(col(Run.retry_of), col(Run.id)).where(col(Run.retry_of).in_(ids)).order_by(col(Run.id))
    ).all()
    for original, retry in rows:
        if original is not None:
            found.setdefault(original, []).append(retry)
    return found


def issue_taken_up_by(session: Session, runs: Iterable[RunPublic]) -> dict[str, str]:
    """AFK run id -> the newest later AFK run on its issue, for the runs that have one: the loop took the issue up
    again (after a crash, an expiry or a launch failure released it) or a person retried it. Its own Retry would be
    refused while that run works on the issue (409 issue_busy); the newest run is the one to retry."""
    afk = [run for run in runs if run.kind == RunKind.auto and run.issue_number is not None]
    if not afk:
        return {}
    rows = session.exec(
        select(col(Run.project_id), col(Run.issue_number), func.max(col(Run.id)))
        .where(
            col(Run.kind) == RunKind.auto,
            col(Run.project_id).in_({run.project_id for run in afk}),
            col(Run.issue_number).in_({run.issue_number for run in afk}),
            col(Run.id) > min(run.id for run in afk),  # later runs only: a page of recent runs reads recent rows
        )
        .group_by(col(Run.project_id), col(Run.issue_number))
    ).all()
    newest = {(project, number): run_id for project, number, run_id in rows}
    found = {run.id: newest.get((run.project_id, run.issue_number)) for run in afk}
    return {run_id: later for run_id, later in found.items() if later is not None and later > run_id}
