"""Classify a finished run, and write its end to the database in one transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, Engine, text

from app.infra.db import session_scope
from app.models import ACTIVE_SQL, RunStatus, utcnow
from app.services.afk import claims
from app.services.afk.rules import feeds_counter, settle_afk_run
from app.services.notifications.outbox import record_run_end
from app.services.runs.timeline import OUTPUT_KINDS, append_events, timed_sql

KillReason = Literal['timeout', 'stop', 'shutdown', 'pull_request'] | None


def classify_run(
    *,
    exit_code: int | None,
    kill_reason: KillReason = None,
    owner_gone: bool = False,
    has_pull_request: bool = False,
    forced: RunStatus | None = None,
) -> RunStatus:
    """Pure: what status does a finished run get? The one place that decides it.

    A pull request (AFK on a forge) wins over everything else; then an outcome decided before the process
    could have one (`forced`: a launch failure, an engine error); then a dead owner; then why we killed it;
    then the exit code.
    """
    if has_pull_request:
        return RunStatus.succeeded
    if forced is not None:
        return forced
    if owner_gone or kill_reason == 'shutdown':
        return RunStatus.crashed
    if kill_reason == 'timeout':
        return RunStatus.timed_out
    if kill_reason == 'stop':
        return RunStatus.stopped
    if exit_code == 0:
        return RunStatus.succeeded
    return RunStatus.failed


# the status lines that say why a stop was asked (execution/stop.py, runs/usage.py's cost cap), newest last
STOP_LINES_SQL = (
    "SELECT text FROM runevent WHERE run_id = :id AND type = 'status' AND (text LIKE 'stop requested%' "
    "OR text LIKE 'stopping: %' OR text LIKE 'cancelled by %' OR text LIKE 'not approved: %') ORDER BY seq"
)


STOP_WORDS = (('stop requested by ', 'stopped by '), ('stop requested: ', 'stopped: '), ('stopping: ', 'stopped: '))


def stop_reason(lines: list[str]) -> str | None:
    """Pure: why a stopped run stopped, from its log's stop lines (the last asked wins), as its error says it: who
    stopped it or what did (a closed issue, the AFK cost cap); None when none says."""
    if not lines:
        return None
    said = lines[-1]
    for asked, told in STOP_WORDS:
        if said.startswith(asked):
            return told + said.removeprefix(asked)
    return said


_COUNTER_SQL = {
    'add': 'UPDATE project SET consecutive_failures = consecutive_failures + 1 WHERE id = :pid',
    'reset': 'UPDATE project SET consecutive_failures = 0 WHERE id = :pid',
}


def finish_run(
    engine: Engine,
    *,
    run_id: str,
    status: RunStatus,
    exit_code: int | None = None,
    error: str | None = None,
    message: str | None = None,
    output: list[tuple[str, str]] | None = None,
    launch_failed: bool = False,
    only_if: str = ACTIVE_SQL,
    peak_memory_bytes: int | None = None,
    cpu_seconds: float | None = None,
    memory_max_bytes: int | None = None,
) -> dict | None:
    """Move an active run to a terminal status, exactly once.

    `output`: the run's last unstored timeline events, stored in the same transaction just before the terminal
    event (one commit less between the process's exit and its terminal status); stored even if the run had
    already ended.
    `launch_failed`: the command or its checkout could not start (nothing ran). For AFK runs the
    counter and the issue's claim move by afk_rules.settle_afk_run; other kinds touch neither.
    Returns the run's project/team ids when this call did it, None when the run had already ended
    (two reapers racing: only one wins, so the failure counter moves once).
    `only_if`: the statuses it may end from (a queue TTL ends only a run still queued, never one an engine
    has just claimed; a cancel ends only a run still delayed).
    """

    output = output or []
    output_lines = sum(1 for kind, _ in output if kind in OUTPUT_KINDS)
    with session_scope(engine) as session:
        conn = session.connection()
        if status == RunStatus.stopped and error is None:  # who or what stopped it, where people look for why
            error = stop_reason([row[0] for row in conn.execute(text(STOP_LINES_SQL), {'id': run_id})])
        now = utcnow()  # inside the transaction (SQLite: under the write lock), as close to the commit as can be
        row = conn.execute(
            timed_sql(
                'UPDATE run SET status = :status, finished_at = :now, exit_code = :exit_code, error = :error, '
                'peak_memory_bytes = :peak, cpu_seconds = :cpu, memory_max_bytes = :memory_max '
                f'WHERE id = :id AND {only_if} '
                'RETURNING project_id, kind, (SELECT team_id FROM project WHERE project.id = run.project_id)',
                binds=('now',),
            ),
            {
                'status': status.value,
                'now': now,
                'exit_code': exit_code,
                'error': error,
                'peak': peak_memory_bytes,
                'cpu': cpu_seconds,
                'memory_max': memory_max_bytes,
                'id': run_id,
            },
        ).first()
        if row is None:
            if output:
                append_events(conn, run_id, output, output_lines=output_lines, now=now)
            return None
        project_id, kind, team_id = row
        detail = message or (f'exit code {exit_code}' if exit_code is not None else '')
        # the last output and the terminal event in one append (one seq update, one insert), before the end's
        # deliveries read the run's last lines and annotations
        end = ('status', f'{status.value}' + (f': {detail}' if detail else ''))
        append_events(conn, run_id, [*output, end], output_lines=output_lines, now=now)
        claim_active = True
        if feeds_counter(kind):
            settlement = settle_afk_run(status.value, launch_failed=launch_failed)
            if settlement.counter in _COUNTER_SQL:
                conn.execute(text(_COUNTER_SQL[settlement.counter]), {'pid': project_id})

            claim_active = claims.settle_for_run(
                conn,
                run_id=run_id,
                move=settlement.claim,
                cause=f'{status.value}: {error or detail}' if (error or detail) else status.value,
            )
            if launch_failed:
                record_launch_error(conn, project_id, error or detail, now)
        # the deliveries its end raises (docs/notifications.md), in this transaction; sent apart (notify_sender.py)
        record_run_end(
            conn,
            run_id=run_id,
            project_id=project_id,
            kind=kind,
            status=status.value,
            launch_failed=launch_failed,
            claim_active=claim_active,
        )
    return {'project_id': project_id, 'team_id': team_id, 'kind': kind, 'status': status.value}


def record_launch_error(conn: Connection, project_id: str, cause: str, now: datetime) -> None:
    """The project's AFK launches stop until it changes: the card shows why (afk_rules.should_launch_auto)."""
    conn.execute(
        timed_sql('UPDATE project SET launch_error = :cause, launch_error_at = :now WHERE id = :pid', binds=('now',)),
        {'cause': (cause or 'launch failed')[:500], 'now': now, 'pid': project_id},
    )
