"""The audit log: who triggered, retried, stopped, reset, toggled auto, changed a project, a token or a person;
when, and from which token. Each entry is written in the transaction of the change it records, so a change
without its entry (or an entry without its change) cannot exist. Operators read their teams' entries."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from difflib import get_close_matches
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert
from sqlmodel import Session, col, select

from app.core import ids
from app.core.errors import DomainError, Refusal
from app.models import AuditEntry, utcnow
from app.models.vocabulary import AUDIT_ACTIONS
from app.services.identity.accounts import Principal
from app.services.runs import filters as run_filters

# the groups the filter takes besides the actions: each action's words before one of its dots (`project`,
# `project.variable`), in the order of the actions
AUDIT_GROUPS = tuple(
    dict.fromkeys(action.rsplit('.', depth)[0] for action in AUDIT_ACTIONS for depth in range(action.count('.'), 0, -1))
)
SYSTEM_ACTOR = 'Runboard (AFK loop)'
# the person-less entries `runboard users add` writes: it works on the database, with no token and nobody signed in
SERVER_COMMAND_ACTOR = 'runboard users add (on the server)'
_table: Table = AuditEntry.__table__  # type: ignore[attr-defined]


def entry_values(
    principal: Principal | None,
    action: str,
    *,
    team_id: str,
    project_id: str | None = None,
    target: str | None = None,
    details: Mapping[str, Any] | None = None,
    correlation_id: str | None = None,
    now: datetime | None = None,
    actor: str = SYSTEM_ACTOR,
) -> dict[str, Any]:
    """Pure: the row for one action (the caller inserts it in its own transaction); `actor` names who acted when no
    person did."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f'unknown audit action {action!r}')
    return {
        'id': ids.new_run_id(prefix='aud_'),
        'at': now or utcnow(),
        'team_id': team_id,
        'actor_id': principal.user_id if principal else None,
        'actor_name': principal.name if principal else actor,
        'token_id': principal.token_id if principal else None,
        'action': action,
        'project_id': project_id,
        'target': target,
        'details': dict(details or {}),
        'correlation_id': correlation_id,
    }


def record(conn: Connection | Session, principal: Principal | None, action: str, **fields: Any) -> None:
    """Insert one entry inside the caller's transaction (a Connection, or a Session's)."""
    connection = conn.connection() if isinstance(conn, Session) else conn
    connection.execute(insert(_table), [entry_values(principal, action, **fields)])


def unknown_action_refusal(action: str) -> Refusal | None:
    """Pure: None for an action or a group the log knows; else the 422 naming the close matches, or every group
    and action when none is close (a typo must not read as "nothing happened")."""
    if action in AUDIT_ACTIONS or action in AUDIT_GROUPS:
        return None
    close = get_close_matches(action.lower(), [*AUDIT_GROUPS, *AUDIT_ACTIONS], n=3, cutoff=0.8)
    if close:
        hint = f'Did you mean {close[0] if len(close) == 1 else ", ".join(close[:-1]) + " or " + close[-1]}?'
    else:
        hint = f'Give a group ({", ".join(AUDIT_GROUPS)}) or an action ({", ".join(AUDIT_ACTIONS)}).'
    return Refusal(
        422,
        'unknown_audit_action',
        f'The audit log has no action {action!r}. {hint}',
        field='action',
        extra={'close_matches': close, 'known_actions': list(AUDIT_ACTIONS), 'known_groups': list(AUDIT_GROUPS)},
    )


def list_entries(
    engine: Engine,
    principal: Principal,
    *,
    action: str | None = None,
    actor: str | None = None,
    project: str | None = None,
    since: str | None = None,
    until: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[AuditEntry], str | None]:
    """Newest first, keyset by id; operators only, their teams only. `action` may name a group (`run`,
    `project.variable`); one the log does not know is a 422 (unknown_action_refusal)."""
    if not principal.is_operator:
        raise DomainError(403, 'forbidden', 'Only operators can read the audit log.')
    query = select(AuditEntry).where(col(AuditEntry.team_id).in_(principal.team_ids))
    if action:
        if refusal := unknown_action_refusal(action):
            raise DomainError.from_refusal(refusal)
        query = query.where(
            col(AuditEntry.action) == action
            if action in AUDIT_ACTIONS
            else col(AuditEntry.action).startswith(action + '.')
        )
    if actor:
        query = query.where((col(AuditEntry.actor_name) == actor) | (col(AuditEntry.actor_id) == actor))
    if project:
        query = query.where(col(AuditEntry.project_id) == project)
    lowest, above = run_filters.id_range(since, until, prefix='aud_')
    if lowest:
        query = query.where(col(AuditEntry.id) >= lowest)
    if above:
        query = query.where(col(AuditEntry.id) < above)
    if cursor:
        query = query.where(col(AuditEntry.id) < cursor)
    with Session(engine) as session:
        rows = list(session.exec(query.order_by(col(AuditEntry.id).desc()).limit(limit + 1)).all())
    return rows[:limit], rows[limit - 1].id if len(rows) > limit else None


def project_actions(
    session: Session, project_id: str, actions: tuple[str, ...], *, since: datetime
) -> list[AuditEntry]:
    """One project's entries of these actions since `since`, oldest first; the caller has checked that the project is
    visible (the AFK loop's summary shows its Resets and switches to builders too, not the whole log)."""
    lowest, _ = run_filters.id_range(since.isoformat(), None, prefix='aud_')
    query = select(AuditEntry).where(
        col(AuditEntry.project_id) == project_id,
        col(AuditEntry.action).in_(actions),
        col(AuditEntry.id) >= lowest,
        col(AuditEntry.at) >= since,
    )
    return list(session.exec(query.order_by(col(AuditEntry.id))).all())
