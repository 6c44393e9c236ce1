"""Classify a finished run, and write its end to the database in one transaction."""
from __future__ import annotations

from typing import Literal

from sqlalchemy import Engine, text

from app.models import RunStatus, utcnow
from app.services.timeline import append_events

KillReason = Literal['timeout', 'stop', 'shutdown'] | None
Outcome = Literal['success', 'failure', 'neutral']


def classify_run(*, exit_code: int | None, kill_reason: KillReason = None, owner_gone: bool = False,
                 has_pull_request: bool = False) -> RunStatus:
    """Pure: what status does a finished run get?

    A pull request (AFK on a forge) wins over a dead process or a blown budget; then a dead owner;
    then why we killed it; then the exit code.
    """
    if has_pull_request:
        return RunStatus.succeeded
    if owner_gone or kill_reason == 'shutdown':
        return RunStatus.crashed
    if kill_reason == 'timeout':
        return RunStatus.timed_out
    if kill_reason == 'stop':
        return RunStatus.stopped
    if exit_code == 0:
        return RunStatus.succeeded
    return RunStatus.failed


def outcome_of(status: str) -> Outcome:
    if status == RunStatus.succeeded.value:
        return 'success'
    if status in (RunStatus.failed.value, RunStatus.timed_out.value, RunStatus.crashed.value):
        return 'failure'
    return 'neutral'


def next_failure_count(current: int, outcome: Outcome) -> int:
    """Pure: the project's consecutive_failures after a run with this outcome is reaped."""
    if outcome == 'failure':
        return current + 1
    if outcome == 'success':
        return 0
    return current


_COUNTER_SQL = {
    'failure': 'UPDATE project SET consecutive_failures = consecutive_failures + 1 WHERE id = :pid',
    'success': 'UPDATE project SET consecutive_failures = 0 WHERE id = :pid',
}


def finish_run(engine: Engine, *, run_id: str, status: RunStatus, exit_code: int | None = None,
               error: str | None = None, message: str | None = None) -> dict | None:
    """Move an active run to a terminal status, exactly once.

    Returns the run's project/team ids when this call did it, None when the run had already ended
    (two reapers racing: only one wins, so the failure counter moves once).
    """
    from app.db import session_scope
    with session_scope(engine) as session:
        conn = session.connection()
        now = utcnow()  # inside the transaction (SQLite: under the write lock), as close to the commit as can be
        row = conn.execute(text(
            "UPDATE run SET status = :status, finished_at = :now, exit_code = :exit_code, error = :error "
            "WHERE id = :id AND status IN ('queued', 'running') RETURNING project_id, kind"),
            {'status': status.value, 'now': now, 'exit_code': exit_code, 'error': error, 'id': run_id}).first()
        if row is None:
            return None
        project_id, kind = row
        outcome = outcome_of(status.value)
        if outcome in _COUNTER_SQL:
            conn.execute(text(_COUNTER_SQL[outcome]), {'pid': project_id})
        from app.services import claims
        detail = message or (f'exit code {exit_code}' if exit_code is not None else '')
        claims.settle_for_run(conn, run_id=run_id, outcome=outcome,
                              cause=f'{status.value}: {error or detail}' if (error or detail) else status.value)
        append_events(conn, run_id, [('status', f'{status.value}' + (f': {detail}' if detail else ''))], now=now)
        team_id = conn.execute(text('SELECT team_id FROM project WHERE id = :pid'), {'pid': project_id}).scalar()
    return {'project_id': project_id, 'team_id': team_id, 'kind': kind, 'status': status.value}
