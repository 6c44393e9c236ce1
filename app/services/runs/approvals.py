"""Approvals (GitHub's required reviewers of an environment, GitLab's protected environments; docs/security.md,
"Approvals"): a project may ask that a run of one of its protected branches, started by someone who is not an
operator, waits for an operator's approval before it runs.

Such a run is admitted as any run is (its idempotency key, the same refusals) and written `delayed` with
`approval = 'waiting'`: it holds nothing (no slot, no branch lock, no quota) and the delayed-run sweep passes it
over. An operator's Approve sets it due (at once, or at its own later time) and the sweep admits it then under the
rules a trigger meets at that moment, as for any delayed run: the requester's quota, the concurrency limit, the
branch lock. An approved run those refuse waits (GitHub queues an approved job behind its concurrency group): it is
tried again every few seconds for an hour after its approval, and its log says once why it waits; refused for any
other reason, or still refused after the hour, it ends `skipped`. Reject is the Stop a delayed run already has: it
ends `stopped`. Operators' own runs, AFK runs and pull requests' runs (which never see the protected variables) are
not held."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, text
from sqlmodel import Session

from app.core.errors import DomainError, forbidden
from app.core.globs import protected_branch
from app.infra.db import session_scope
from app.infra.events import EventBus
from app.models import Project, RunPublic, utcnow
from app.models.vocabulary import APPROVAL_APPROVED, APPROVAL_WAITING, AWAITING_APPROVAL_SQL
from app.services.identity import audit
from app.services.identity.accounts import Principal
from app.services.runs.reads import load_visible_run, public
from app.services.runs.timeline import DB_TIME, append_events

EXEMPT_KINDS = ('auto', 'pull_request')
WAITING, APPROVED = APPROVAL_WAITING, APPROVAL_APPROVED
DUE_SQL = "(approval IS NULL OR approval <> 'waiting')"  # a delayed run the sweep may admit when its time comes
WAITS_FOR = (409, 429)  # refusals that pass: the branch lock, the concurrency limit, the quota
WAIT_LIMIT = timedelta(hours=1)  # an approval older than this is stale: the run ends skipped, as delayed runs do
# a request nobody approved in this time ends `expired` (GitHub's pending deployments: 30 days), so an old commit is
# never run by an approval of everything that waits (`runs approve --all`) long after it was asked for
REQUEST_EXPIRES = timedelta(days=30)
RETRY_EVERY = timedelta(seconds=5)

SQL_APPROVE = text(
    "UPDATE run SET approval = 'approved', approved_by = :by, approved_at = :now, run_at = COALESCE(run_at, :now) "
    f'WHERE id = :id AND {AWAITING_APPROVAL_SQL} AND stop_requested_at IS NULL'
).bindparams(bindparam('now', type_=DB_TIME))


def needs_approval(*, project: Project, kind: str, branch: str, is_operator: bool) -> bool:
    """Pure: whether a run about to be admitted waits for an operator's approval."""
    if not project.approval_required or is_operator or kind in EXEMPT_KINDS:
        return False
    return protected_branch(branch, base_branch=project.base_branch, patterns=project.protected_branches)


def approved_run_waits(*, approval: str | None, approved_at: datetime | None, status: int, now: datetime) -> bool:
    """Pure: whether an approved run refused (with `status`) when due waits to be tried again, instead of ending
    skipped: the operator said it may run, and a lock or a limit that passes should not undo that."""
    if approval != APPROVED or approved_at is None or status not in WAITS_FOR:
        return False
    return now - approved_at < WAIT_LIMIT


def request_expired(created_at: datetime, now: datetime) -> bool:
    """Pure: whether a run still waiting for an approval has waited too long (it ends `expired`)."""
    return now - created_at >= REQUEST_EXPIRES


def waiting_text(branch: str) -> str:
    return f"waiting for an operator's approval (branch {branch} is protected)"


def approve(engine: Engine, bus: EventBus, principal: Principal, run_id: str) -> RunPublic:
    """An operator lets a waiting run go: it is admitted when due (now, or its own later time)."""
    if not principal.is_operator:
        raise forbidden('only operators can approve runs')
    now = utcnow()
    with session_scope(engine) as session:
        run, project = load_visible_run(session, run_id, principal)
        conn = session.connection()
        if conn.execute(SQL_APPROVE, {'id': run_id, 'by': principal.name, 'now': now}).rowcount != 1:
            raise DomainError(
                409,
                'not_awaiting_approval',
                f'Run {run_id} is {run.status} and waits for no approval'
                + (f' (approved by {run.approved_by})' if run.approval == 'approved' else '')
                + '.',
            )
        append_events(conn, run_id, [('status', f'approved by {principal.name}')], now=now)
        audit.record(
            session,
            principal,
            'run.approved',
            team_id=project.team_id,
            project_id=project.id,
            target=run_id,
            details={'branch': run.branch_name, 'requested_by': run.user_id},
        )
    with Session(engine) as session:
        run, _ = load_visible_run(session, run_id, principal)
        answer = public(run)
    bus.publish(
        {'type': 'run', 'id': run_id, 'project_id': project.id, 'team_id': project.team_id, 'status': 'delayed'}
    )
    return answer
