"""Reading runs: one run with its events, a run's events after a sequence number, and the runs list
(filters and a keyset cursor). Visibility is by team: another team's run does not exist (404)."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Select, bindparam, text, true
from sqlalchemy import join as sa_join
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.core.errors import DomainError, not_found
from app.infra.db import read_only, snapshot
from app.models import (
    AUTO_RETRY_STATUSES,
    AnnotationPublic,
    CommitInfo,
    PlannedRetry,
    Project,
    Run,
    RunDetail,
    RunEvent,
    RunEventPublic,
    RunPublic,
    User,
    as_utc,
)
from app.services.identity.accounts import Principal
from app.services.projects import visibility
from app.services.repositories import forge
from app.services.runs import filters as run_filters
from app.services.runs import output_search, retry_rule, stage_store, timeline
from app.services.runs import usage as run_usage

CommitNamed = tuple[str | None, str | None]  # (title, author) as a read joined them from commit_info


def public(run: Run, user_name: str | None = None, commit: CommitNamed | None = None) -> RunPublic:
    """`commit`: its commit's row, where the server has read it (services/repositories/commits.py)."""
    said: dict[str, str | None] = {}
    if commit is not None and commit[0] is not None:  # '' is a commit with an empty message, read already
        said = {'commit_title': commit[0], 'commit_author': commit[1]}
    return RunPublic.model_validate({**run.model_dump(), 'user_name': user_name, **said})


def link_commits(items: Sequence[RunPublic], places: Mapping[str, tuple[str, Mapping[str, Any] | None]]) -> None:
    """Each item's commit_url, from its project's (repository, issue_source) in `places` (forge.commit_page)."""
    for item in items:
        place = places.get(item.project_id)
        if place is not None and item.commit_sha:
            item.commit_url = forge.commit_page(place[0], place[1], item.commit_sha)


def run_variables(conn: Connection, run_id: str) -> dict[str, str]:
    """The variables the run was triggered with (a retry's are its original's)."""
    rows = conn.execute(text('SELECT name, value FROM runvariable WHERE run_id = :r ORDER BY name'), {'r': run_id})
    return {name: value for name, value in rows}


def load_visible_run(session: Session, run_id: str, principal: Principal) -> tuple[Run, Project]:
    run = session.get(Run, run_id)
    project = session.get(Project, run.project_id) if run else None
    if run is None or project is None or not visibility.visible(project, principal):
        raise not_found(f'run {run_id!r}')
    return run, project


def get_run(
    engine: Engine, principal: Principal, run_id: str, *, with_events: bool = True, events_limit: int = 2000
) -> RunDetail:
    with Session(snapshot(engine)) as session:  # its statements read one moment of the run
        run, project = load_visible_run(session, run_id, principal)
        user = session.get(User, run.user_id) if run.user_id else None
        commit = session.get(CommitInfo, run.commit_sha) if run.commit_sha else None
        said = (commit.title, commit.author_name) if commit is not None else None
        detail = RunDetail.model_validate({**public(run, user.name if user else None, said).model_dump()})
        link_commits([detail], {project.id: (project.repository, project.issue_source)})
        detail.retried_by = run_filters.retried_by(session, [run_id]).get(run_id, [])
        detail.issue_taken_up_by = run_filters.issue_taken_up_by(session, [detail]).get(run_id)
        if run.status in AUTO_RETRY_STATUSES and not detail.retried_by:
            planned = retry_rule.planned_retry(session.connection(), run_id)
            detail.retry_planned = (
                PlannedRetry(attempt=planned[0], of=planned[1], waits=run.waits_for) if planned else None
            )
        detail.variables = run_variables(session.connection(), run_id)
        stage_store.annotate(session, [detail])
        run_usage.annotate(session.connection(), [detail])  # its `::usage::` lines, summed
        detail.annotations = [
            AnnotationPublic.model_validate(a) for a in timeline.read_annotations(session.connection(), run_id)
        ]
        if with_events:
            detail.events = _events(session, run_id, after=0, limit=events_limit, tail=True)
        return detail


def _events(session: Session, run_id: str, *, after: int, limit: int, tail: bool = False) -> list[RunEventPublic]:
    query = select(RunEvent).where(col(RunEvent.run_id) == run_id, col(RunEvent.seq) > after)
    if tail:
        rows = session.exec(query.order_by(col(RunEvent.seq).desc()).limit(limit)).all()
        rows = list(reversed(rows))
    else:
        rows = session.exec(query.order_by(col(RunEvent.seq)).limit(limit)).all()
    return [RunEventPublic.model_validate(r.model_dump()) for r in rows]


def _events_after_statement() -> Select[Any]:
    events = (
        sa_select(col(RunEvent.seq), col(RunEvent.at), col(RunEvent.type), col(RunEvent.text))
        .where(col(RunEvent.run_id) == bindparam('run_id'), col(RunEvent.seq) > bindparam('after'))
        .order_by(col(RunEvent.seq))
        .limit(bindparam('limit'))
        .subquery()
    )
    return (
        sa_select(events)
        .select_from(sa_join(Run, Project, col(Project.id) == col(Run.project_id)).outerjoin(events, true()))
        .where(col(Run.id) == bindparam('run_id'), col(Project.team_id).in_(bindparam('team_ids', expanding=True)))
        .order_by(events.c.seq)
    )


# built once: a follower reads many times a second while a run prints, and building the statement (and its cache
# key) each time was a fifth of such a read's cost (bench/fanout.py)
EVENTS_AFTER = _events_after_statement()


def list_events(
    engine: Engine, principal: Principal, run_id: str, *, after: int = 0, limit: int = 1000
) -> list[RunEventPublic]:
    """A follower's read, once per wake-up: one query answers whether the caller sees the run and its events
    after `after`, from a snapshot (it never queues behind the output's writes), as plain rows (no ORM objects)."""
    params = {'run_id': run_id, 'after': after, 'limit': limit, 'team_ids': list(principal.team_ids)}
    with read_only(engine).connect() as conn:
        rows = conn.execute(EVENTS_AFTER, params).all()
    if not rows:
        raise not_found(f'run {run_id!r}')
    # the rows are the database's, already checked and in UTC (UTCDateTime): no validation to repeat
    return [
        RunEventPublic.model_construct(seq=seq, at=at, type=kind, text=text)
        for seq, at, kind, text in rows
        if seq is not None
    ]


def list_runs(
    engine: Engine,
    principal: Principal,
    *,
    project: str | None = None,
    status: list[str] | None = None,
    kind: str | None = None,
    branch: str | None = None,
    user: str | None = None,
    since: str | None = None,
    until: str | None = None,
    q: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[RunPublic], str | None]:
    """Newest first; the cursor is the last id seen (ids sort by creation). The visible projects and the
    person are resolved first, so the runs query filters on run columns only: an index on (column, id)
    then reads just the page, however many runs there are (bench/lists.py)."""
    with Session(engine) as session:
        visible = select(Project.id, Project.repository, Project.issue_source).where(
            col(Project.team_id).in_(principal.team_ids)
        )
        if project:
            visible = visible.where(col(Project.id) == project)
        places = {pid: (repository, source) for pid, repository, source in session.exec(visible).all()}
        if not places:
            return [], None
        query = (
            select(Run, col(User.name), col(CommitInfo.title), col(CommitInfo.author_name))
            .outerjoin(User, col(User.id) == col(Run.user_id))
            .outerjoin(CommitInfo, col(CommitInfo.sha) == col(Run.commit_sha))
            .where(col(Run.project_id).in_(list(places)))
        )
        if status:
            query = query.where(run_filters.status_condition(status))
        if kind:
            query = query.where(col(Run.kind) == kind)
        if branch:
            query = query.where(col(Run.branch_name) == branch)
        if user:
            people = [user, *session.exec(select(col(User.id)).where(col(User.name) == user)).all()]
            query = query.where(col(Run.user_id).in_(people))
        query = query.where(*run_filters.created_conditions(since, until))
        if q:
            query = query.where(run_filters.search_condition(q))
        if cursor:
            query = query.where(col(Run.id) < cursor)
        rows = session.exec(query.order_by(col(Run.id).desc()).limit(limit + 1)).all()
        items = [public(r, name, (title, author)) for r, name, title, author in rows[:limit]]
        link_commits(items, places)
        retries = run_filters.retried_by(session, (item.id for item in items))
        taken_up = run_filters.issue_taken_up_by(session, items)
        for item in items:
            item.retried_by = retries.get(item.id, [])
            item.issue_taken_up_by = taken_up.get(item.id)
        stage_store.annotate(session, items)  # one query for the page's stages
        run_usage.annotate(session.connection(), items)  # and their usage
        next_cursor = items[-1].id if len(rows) > limit else None
        return items, next_cursor


LOG_BATCH = 5000  # rows fetched from the database at a time while a log streams


def _refuse_removed_log(run: Run) -> None:
    """410 `log_removed` for a run whose output the log retention removed (a download of what is left would look
    like the whole log)."""
    if run.log_removed_at is not None:
        removed = as_utc(run.log_removed_at)
        raise DomainError(
            410,
            'log_removed',
            f'The output of run {run.id} was removed on {removed:%Y-%m-%d %H:%M} UTC (log retention). '
            'Its status, stages, annotations and test results are kept.',
            log_removed_at=removed.isoformat(),
        )


OUTPUT_SQL = (
    sa_select(col(RunEvent.at), col(RunEvent.text))
    .where(col(RunEvent.run_id) == bindparam('run_id'), col(RunEvent.type).in_(timeline.OUTPUT_KINDS))
    .order_by(col(RunEvent.seq))
)


class SnapshotLines:
    """The lines of one log read from one transaction, as a sync iterator (Starlette reads it in its threadpool);
    `close()` ends the transaction at once, waiting for a read under way (a download cut short by its client must
    not hold a connection and a snapshot until the garbage collector finds the iterator)."""

    def __init__(self, lines: Generator[bytes]) -> None:
        self._lines = lines
        self._lock = threading.Lock()
        self.head = next(lines, b'')  # the checks, and the snapshot taken with them

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        with self._lock:
            if self.head:
                head, self.head = self.head, b''
                return head
            return next(self._lines)

    def close(self) -> None:
        with self._lock:
            self._lines.close()


def output_lines(engine: Engine, principal: Principal, run_id: str, *, timestamps: bool = False) -> SnapshotLines:
    """The run's output lines in order (an annotation's line as printed; not stage or group markers), all read from
    one snapshot: a log retention sweep or a delete while a long log downloads changes nothing of it. The 404 and
    410 are raised by this call, before a 200 could start; the lines are then fetched from the same transaction a
    batch at a time as the iterator is read, so a 100,000-line log never sits in memory whole. Reading it to the
    end, or closing it, ends the transaction."""
    return SnapshotLines(_snapshot_lines(engine, principal, run_id, timestamps=timestamps))


def _snapshot_lines(engine: Engine, principal: Principal, run_id: str, *, timestamps: bool) -> Generator[bytes]:
    with Session(snapshot(engine)) as session:
        run, _ = load_visible_run(session, run_id, principal)
        _refuse_removed_log(run)
        rows = session.connection().execute(OUTPUT_SQL, {'run_id': run_id}, execution_options={'yield_per': LOG_BATCH})
        for batch in rows.partitions():
            yield ''.join((f'{at.isoformat()} ' if timestamps else '') + line + '\n' for at, line in batch).encode()


def search_output(
    engine: Engine, principal: Principal, run_id: str, q: str | None, *, after: int = 0, limit: int = 1000
) -> output_search.OutputMatches:
    """The run's output lines that hold q in any case (services/runs/output_search.py); 404 like the events."""
    needle = output_search.needle_of(q)  # a bad query is a 422 before anything is read
    with Session(engine) as session:
        load_visible_run(session, run_id, principal)
        return output_search.search(session.connection(), run_id, needle, after=after, limit=limit)
