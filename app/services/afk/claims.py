"""AFK issue claims. A claim is unique per project + issue among unfinished claims (active, parked),
enforced by a partial unique index, so two servers can never claim one issue.

States: active (its run is under way) -> done (success) | parked (failure or a person's Stop) |
released (nothing the agent did: its command could not start, or the server running it went away);
parked -> requeued (ready again) | discarded (dropped from the AFK queue);
done | discarded -> requeued (a person's Requeue: an open forge issue whose pull request was closed unmerged).
An issue is claimable when it has no claim in BLOCKING_STATES.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, bindparam, text
from sqlmodel import Session, col, select

from app.core.errors import DomainError
from app.infra.db import session_scope
from app.models import IssueClaim, utcnow

BLOCKING_STATES = ('active', 'parked', 'done', 'discarded')
_BLOCKING_SQL = "('active', 'parked', 'done', 'discarded')"


_CLAIM_STATE = {'done': 'done', 'park': 'parked', 'release': 'released'}


def settle_for_run(conn: Connection, *, run_id: str, move: str, cause: str) -> bool:
    """End the active claim of a run: `move` from afk_rules.settle_afk_run (done, park, release). False when the run
    held no active claim any more (a person closing its issue released it before the run ended)."""
    state = _CLAIM_STATE[move]
    moved = conn.execute(
        text(
            'UPDATE issueclaim SET state = :state, cause = :cause, updated_at = :now '
            "WHERE run_id = :run_id AND state = 'active'"
        ),
        {'state': state, 'cause': None if state == 'done' else cause[:500], 'now': utcnow(), 'run_id': run_id},
    ).rowcount
    if state == 'done':  # the local backlog closes what an agent finished (forge issues close with their PR)
        conn.execute(
            text(
                "UPDATE issue SET state = 'closed', updated_at = :now WHERE state = 'open' AND EXISTS ("
                'SELECT 1 FROM issueclaim c WHERE c.run_id = :run_id AND c.project_id = issue.project_id '
                'AND c.issue_number = issue.number)'
            ),
            {'now': utcnow(), 'run_id': run_id},
        )
    return moved > 0


def claim_in(conn: Connection, *, project_id: str, issue_number: int, issue_title: str, run_id: str) -> bool:
    """Claim an issue for a run inside the caller's transaction. False when it is already claimed,
    parked, done or discarded (by anyone, on any server)."""
    now = utcnow()
    inserted = conn.execute(
        text(
            'INSERT INTO issueclaim (project_id, issue_number, issue_title, run_id, state, created_at, updated_at) '
            "SELECT :project_id, :number, :title, :run_id, 'active', :now, :now WHERE NOT EXISTS ("
            f'  SELECT 1 FROM issueclaim WHERE project_id = :same_project AND issue_number = :same_number '
            f'  AND state IN {_BLOCKING_SQL}) '
            "ON CONFLICT (project_id, issue_number) WHERE state IN ('active', 'parked') DO NOTHING"
        ),
        {
            'project_id': project_id,
            'number': issue_number,
            'title': issue_title[:500],
            'run_id': run_id,
            'now': now,
            'same_project': project_id,
            'same_number': issue_number,
        },
    )
    return inserted.rowcount == 1


def blocked_numbers(conn: Connection, project_ids: list[str] | None = None) -> dict[str, set[int]]:
    """project id -> issue numbers that are not claimable."""
    sql = f'SELECT project_id, issue_number FROM issueclaim WHERE state IN {_BLOCKING_SQL}'
    params: dict = {}
    if project_ids is not None and len(project_ids) == 1:
        sql += ' AND project_id = :pid'
        params['pid'] = project_ids[0]
    blocked: dict[str, set[int]] = {}
    for project_id, number in conn.execute(text(sql), params).all():
        blocked.setdefault(project_id, set()).add(number)
    return blocked


def latest_by_issue(conn: Connection, project_id: str) -> dict[int, dict]:
    """Issue number -> its most recent claim {state, run_id, cause}."""
    rows = conn.execute(
        text('SELECT issue_number, state, run_id, cause FROM issueclaim WHERE project_id = :pid ORDER BY id'),
        {'pid': project_id},
    ).all()
    return {number: {'state': state, 'run_id': run_id, 'cause': cause} for number, state, run_id, cause in rows}


def parked(engine: Engine, project_id: str) -> list[IssueClaim]:

    with Session(engine) as session:
        rows = session.exec(
            select(IssueClaim)
            .where(col(IssueClaim.project_id) == project_id, col(IssueClaim.state) == 'parked')
            .order_by(col(IssueClaim.issue_number))
        ).all()
        return list(rows)


def _move_in(
    conn: Connection, project_id: str, issue_number: int, new_state: str, from_states: tuple[str, ...]
) -> int | None:
    """Move the issue's claim in one of `from_states` to `new_state`; its id, or None when none was there."""
    row = conn.execute(
        text(
            'UPDATE issueclaim SET state = :state, updated_at = :now WHERE project_id = :pid '
            'AND issue_number = :n AND state IN :states RETURNING id'
        ).bindparams(bindparam('states', expanding=True)),
        {'state': new_state, 'now': utcnow(), 'pid': project_id, 'n': issue_number, 'states': from_states},
    ).first()
    return None if row is None else row[0]


def _move(
    engine: Engine, project_id: str, issue_number: int, new_state: str, *, from_states: tuple[str, ...]
) -> IssueClaim:
    said = ' or '.join(from_states) if len(from_states) < 3 else f'{", ".join(from_states[:-1])} or {from_states[-1]}'
    with session_scope(engine) as session:
        claim_id = _move_in(session.connection(), project_id, issue_number, new_state, from_states)
        claim = session.get(IssueClaim, claim_id) if claim_id is not None else None
        if claim is None:
            raise DomainError(404, 'not_found', f'issue #{issue_number} is not {said} in project {project_id!r}')
        return claim


def requeue(engine: Engine, project_id: str, issue_number: int) -> IssueClaim:
    """The issue becomes ready again (the next sweep may pick it): a parked one, or one done or discarded that is
    still open (a forge issue stays open when the agent's pull request is closed unmerged)."""
    return _move(engine, project_id, issue_number, 'requeued', from_states=('parked', 'done', 'discarded'))


def discard(engine: Engine, project_id: str, issue_number: int) -> IssueClaim:
    """A parked issue leaves the AFK queue until a person requeues it."""
    return _move(engine, project_id, issue_number, 'discarded', from_states=('parked',))


def withdraw_active(conn: Connection, project_id: str, issue_number: int, cause: str) -> str | None:
    """The issue stopped being work (closed, or no longer labelled ready) while a run works on it: its claim is
    released, not parked (the run is stopped, no failure of the agent's), and the run's id returned to stop."""
    row = conn.execute(
        text(
            "UPDATE issueclaim SET state = 'released', cause = :cause, updated_at = :now WHERE project_id = :pid "
            "AND issue_number = :n AND state = 'active' RETURNING run_id"
        ),
        {'cause': cause[:500], 'now': utcnow(), 'pid': project_id, 'n': issue_number},
    ).first()
    return None if row is None else row[0]


def take_back_for_retry(engine: Engine, project_id: str, issue_number: int) -> None:
    """A person retries an AFK run: its issue is work again whatever its claim says (parked, done or discarded;
    a released claim does not block it). An issue another run is working on is refused with that run."""
    with session_scope(engine) as session:
        conn = session.connection()
        active = conn.execute(
            text("SELECT run_id FROM issueclaim WHERE project_id = :pid AND issue_number = :n AND state = 'active'"),
            {'pid': project_id, 'n': issue_number},
        ).scalar()
        if active is not None:
            raise DomainError(
                409, 'issue_busy', f'Issue #{issue_number} is being worked on by run {active}.', blocking_run_id=active
            )
        _move_in(conn, project_id, issue_number, 'requeued', ('parked', 'done', 'discarded'))


def discard_parked_in(conn: Connection, project_id: str, issue_number: int) -> None:
    """A person closed a parked issue: nothing is left to requeue, so it leaves the parked list (and the project's
    parked count) as discarded; reopening it makes it work again (release_finished)."""
    _move_in(conn, project_id, issue_number, 'discarded', ('parked',))


def release_finished(conn: Connection, project_id: str, issue_number: int) -> None:
    """A reopened issue is work again: its done/discarded claims stop blocking it."""
    _move_in(conn, project_id, issue_number, 'requeued', ('done', 'discarded'))
