"""Stopping a run: a queued one ends at once; a running one is asked to stop (its engine, on whichever
instance, ends its process group; the heartbeat picks up a stop the bus missed)."""

from __future__ import annotations

from sqlalchemy import Engine, text

from app.core.errors import DomainError
from app.infra.db import session_scope
from app.infra.events import EventBus
from app.models import ACTIVE_SQL, ACTIVE_STATUSES, WAITING_STATUSES, RunPublic, RunStatus, utcnow
from app.services.execution.reaper import finish_run
from app.services.identity import audit
from app.services.identity.accounts import Principal
from app.services.runs import approvals
from app.services.runs.reads import get_run, load_visible_run
from app.services.runs.timeline import append_events


def stop_run(engine: Engine, bus: EventBus, principal: Principal, run_id: str, *, reason: str = '') -> RunPublic:
    """`reason` says why, when a person's act other than Stop ends the run (closing the issue it works on)."""
    with session_scope(engine) as session:
        run, project = load_visible_run(session, run_id, principal)
        if run.status not in (*ACTIVE_STATUSES, *WAITING_STATUSES):
            raise DomainError(409, 'run_ended', f'Run {run_id} already ended ({run.status}).')
        conn = session.connection()
        # the status as the UPDATE found it (a delayed run may have been admitted since the read); no row: a stop was
        # asked already (a second press, another person) or the run ended meanwhile: nothing more to say or audit
        asked = conn.execute(
            text(
                'UPDATE run SET stop_requested_at = :now, stop_requested_by = :u '
                "WHERE id = :id AND stop_requested_at IS NULL AND status IN ('delayed', 'queued', 'running') "
                'RETURNING status'
            ),
            {'now': utcnow(), 'u': principal.user_id, 'id': run_id},
        ).scalar()
        if asked is None:
            now_status = conn.execute(text('SELECT status FROM run WHERE id = :id'), {'id': run_id}).scalar()
            if now_status not in (*ACTIVE_STATUSES, *WAITING_STATUSES):
                raise DomainError(409, 'run_ended', f'Run {run_id} already ended ({now_status}).')
        status = asked or run.status
        delayed = status == RunStatus.delayed.value  # cancelled: it ends stopped without ever starting
        if asked is not None:
            said = f'stop requested by {principal.name}'
            if delayed:
                said = f'cancelled by {principal.name} before it was due'
            if run.approval == approvals.WAITING:  # an operator's Reject, or its person taking the request back
                said = f'not approved: cancelled by {principal.name}'
            if reason:
                said = f'stop requested: {reason}'
            append_events(conn, run_id, [('status', said)])
            audit.record(conn, principal, 'run.stopped', team_id=project.team_id, project_id=project.id, target=run_id)
        was_queued = status in (RunStatus.queued.value, RunStatus.delayed.value)
        team_id = project.team_id
    ended = None
    if was_queued:
        ended = finish_run(
            engine,
            run_id=run_id,
            status=RunStatus.stopped,
            message=f'stopped: {reason}' if reason else f'{"cancelled" if delayed else "stopped"} by {principal.name}',
            only_if="status IN ('delayed', 'queued')" if delayed else ACTIVE_SQL,  # admitted meanwhile: still ends
        )
    bus.publish({'type': 'run.stop', 'id': run_id, 'project_id': run.project_id, 'team_id': team_id})
    # a queued run ended here: its end is what every server hears (what waited for it goes now), not a stop asked
    status = RunStatus.stopped.value if ended is not None else 'stopping'
    bus.publish({'type': 'run', 'id': run_id, 'project_id': run.project_id, 'team_id': team_id, 'status': status})
    return get_run(engine, principal, run_id, with_events=False)
