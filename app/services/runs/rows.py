"""The rows a run's admission writes (the run, its first timeline event, its audit entry) as driver-level
statements, and the run as they write it, without reading it back (services/runs/writer.py decides the slot)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from app.models import Project, RunPublic, RunStatus
from app.services.identity import audit
from app.services.identity.accounts import Principal

if TYPE_CHECKING:
    from app.services.runs.writer import RunSpec, RunWriter

AUDIT_ACTIONS = {
    'manual': 'run.triggered',
    'retry': 'run.retried',
    'auto': 'afk.started',
    'scheduled': 'schedule.fired',
}


def write_statements(
    writer: RunWriter,
    principal: Principal | None,
    project: Project,
    spec: RunSpec,
    *,
    slot: int | None,
    run_id: str,
    now: datetime,
    key: str | None,
    fingerprint: str | None,
    correlation_id: str | None,
) -> tuple[list[tuple[str, dict[str, Any]]], RunPublic]:
    """The statements that write the run (holding `slot`), its first event and its audit entry, and the run as
    they write it."""
    sql, db = writer.sql, writer.db
    delayed = spec.run_at is not None
    ttl = None if delayed else spec.ttl_seconds or project.queued_ttl_seconds
    values = dict(
        id=run_id,
        project_id=project.id,
        repository_key=project.repository_key,
        kind=spec.kind,
        status=RunStatus.delayed.value if delayed else RunStatus.queued.value,
        depth_level=spec.depth_level,
        target_framework=spec.target_framework,
        branch_name=spec.branch_name,
        checkout_ref=spec.checkout_ref or spec.branch_name,
        commit_sha=spec.commit_sha,
        user_id=principal.user_id if principal else None,
        idempotency_key=key,
        payload_fingerprint=fingerprint,
        retry_of=spec.retry_of,
        issue_number=spec.issue_number,
        issue_title=spec.issue_title,
        slot=slot,
        created_at=db.ts(now),
        budget_seconds=project.run_budget_seconds or writer.settings.run_budget_seconds,
        correlation_id=correlation_id,
        last_seq=1,
        output_lines=0,
        run_at=db.ts(spec.run_at) if spec.run_at else None,
        ttl_seconds=ttl if not delayed else spec.ttl_seconds,
        expires_at=db.ts(now + timedelta(seconds=ttl)) if ttl else None,
        batch_id=spec.batch_id,
    )
    text_ = 'queued' + (f' (retry of {spec.retry_of})' if spec.retry_of else '')
    if spec.run_at is not None:
        text_ = f'delayed until {spec.run_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC'
    entry = audit.entry_values(
        principal,
        AUDIT_ACTIONS.get(spec.kind, 'run.triggered'),
        team_id=project.team_id,
        project_id=project.id,
        target=run_id,
        details=audit_details(spec),
        correlation_id=correlation_id,
        now=now,
    )
    audit_values = audit.driver_values(entry, db.ts)
    if db.sqlite:  # in-process statements: three cost no round trips
        statements = [
            (sql['SQL_RUN_INSERT'], values),
            (sql['SQL_FIRST_EVENT'], {'run': run_id, 'at': values['created_at'], 'text': text_}),
            (sql['SQL_AUDIT'], audit_values),
        ]
    else:
        audit_params = {f'audit_{column}': value for column, value in audit_values.items()}
        statements = [(sql['SQL_RUN_WRITE'], {**values, 'first_event_text': text_, **audit_params})]
    return statements, written_run(values, spec, principal, now=now, ttl=ttl)


def audit_details(spec: RunSpec) -> dict[str, str]:
    """What the audit entry of a run's admission says besides its target."""
    pairs = (('branch', spec.branch_name), ('retry_of', spec.retry_of), ('batch_id', spec.batch_id))
    return {k: v for k, v in pairs if v}


def written_run(
    values: dict[str, Any], spec: RunSpec, principal: Principal | None, *, now: datetime, ttl: int | None
) -> RunPublic:
    """The run as insert() wrote it (its driver-level values), without reading it back."""
    return RunPublic.model_validate(
        {
            **values,
            'created_at': now,
            'run_at': spec.run_at,
            'expires_at': now + timedelta(seconds=ttl) if ttl else None,
            'user_name': principal.name if principal else None,
            'started_at': None,
            'finished_at': None,
            'deadline_at': None,
            'heartbeat_at': None,
            'exit_code': None,
            'error': None,
        }
    )
