"""What people do to a project's AFK loop: start an AFK run by hand, switch auto on or off, Reset a paused
project, and requeue or discard a parked issue. Each change publishes the project and kicks the sweep."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session

from app.core.errors import DomainError, forbidden
from app.core.permissions import may_control_afk
from app.infra.db import session_scope
from app.infra.events import EventBus
from app.models import Project, ProjectPublic, Run, RunPublic, utcnow
from app.services.afk import claims
from app.services.afk import issues as issue_source
from app.services.afk import project_view as view
from app.services.afk.loop import AfkLoop, publish_project
from app.services.identity import audit
from app.services.identity.accounts import Principal
from app.services.projects import visibility


class AfkActions:
    def __init__(self, *, engine: Engine, bus: EventBus, loop: AfkLoop) -> None:
        self.engine, self.bus, self.loop = engine, bus, loop

    def start_by_hand(self, principal: Principal, project_id: str, *, correlation_id: str | None = None) -> RunPublic:
        """An AFK run on the next ready issue, now: works on a paused project and with auto off."""
        with Session(self.engine) as session:
            project = visibility.get_visible(session, project_id, principal)
            candidates = issue_source.ready_issues(session, project)
        if not candidates:
            raise DomainError(
                409,
                'no_ready_issue',
                f'Project {project_id!r} has no ready issue: add an open issue labelled '
                f'"ready-for-agent" (or requeue a parked one) and try again.',
            )
        run = self.loop.launch_first(
            project, candidates, principal=principal, gated=False, correlation_id=correlation_id
        )
        if run is None:
            raise DomainError(
                409, 'no_ready_issue', f'Every ready issue of project {project_id!r} was just taken by another AFK run.'
            )
        return run

    def retry_run(self, principal: Principal, original: Run, project: Project, correlation_id: str | None) -> RunPublic:
        """Retry of an AFK run: the agent works on its issue again, from the base branch as every AFK run does (the
        `afk/<N>` branch may not exist, and a pipeline run of it is not what was asked). The issue must still be
        work (open, labelled ready-for-agent); its finished claim is taken back; the new run is an AFK run (kind
        `auto`, retry_of the original) and counts as one."""
        number = original.issue_number
        if number is None:
            raise DomainError(409, 'not_retryable', f'Run {original.id} has no issue to work on again.')
        with Session(self.engine) as session:
            issue = issue_source.source_issue(session, project, number)
        if issue is None or not issue.labelled_ready:
            raise DomainError(
                409,
                'issue_not_ready',
                f'Issue #{number} is not open with the ready-for-agent label: reopen or relabel it to let an agent '
                'work on it again.',
            )
        claims.take_back_for_retry(self.engine, project.id, number)
        return self.loop.launch_retry(
            project, issue, principal=principal, retry_of=original.id, correlation_id=correlation_id
        )

    def set_auto(self, principal: Principal, project_id: str, enabled: bool) -> ProjectPublic:
        """Switching auto off and on never touches the failure counter: only Reset or a success clears a pause.
        Switching it to what it already is changes nothing and is not audited (two people pressing On at once
        make one entry)."""
        self._require_operator(principal)
        with session_scope(self.engine) as session:
            project = visibility.get_visible(session, project_id, principal)
            switched = session.connection().execute(
                text('UPDATE project SET auto_enabled = :on, updated_at = :now WHERE id = :p AND auto_enabled <> :on'),
                {'on': enabled, 'now': utcnow(), 'p': project_id},
            )
            if switched.rowcount:
                audit.record(
                    session,
                    principal,
                    'afk.enabled' if enabled else 'afk.disabled',
                    team_id=project.team_id,
                    project_id=project_id,
                    target=project_id,
                )
        publish_project(self.bus, project)
        if enabled:
            self.loop.kick()
        return view.get_project(self.engine, principal, project_id, sweep=self.loop.sweep_clock())

    def reset(self, principal: Principal, project_id: str) -> ProjectPublic:
        """Zero the failure counter and forget the last launch failure: the loop may launch again."""
        self._require_operator(principal)
        with session_scope(self.engine) as session:
            project = visibility.get_visible(session, project_id, principal)
            session.connection().execute(
                text(
                    'UPDATE project SET consecutive_failures = 0, launch_error = NULL, launch_error_at = NULL, '
                    'afk_cost_capped_on = NULL, afk_cost_cap_reset_at = :now, '  # the day's cost counts from now
                    'updated_at = :now WHERE id = :p'
                ),
                {'now': utcnow(), 'p': project_id},
            )
            details = {'failures_cleared': project.consecutive_failures}
            audit.record(
                session, principal, 'afk.reset', team_id=project.team_id, project_id=project_id, details=details
            )
        publish_project(self.bus, project)
        self.loop.kick()
        return view.get_project(self.engine, principal, project_id, sweep=self.loop.sweep_clock())

    def leave_parked(self, principal: Principal, project_id: str, number: int, action: str) -> dict[str, Any]:
        with Session(self.engine) as session:
            project = visibility.get_visible(session, project_id, principal)
        claim = (claims.requeue if action == 'requeue' else claims.discard)(self.engine, project_id, number)
        publish_project(self.bus, project)
        if action == 'requeue':
            self.loop.kick()
        return {
            'issue_number': claim.issue_number,
            'issue_title': claim.issue_title,
            'state': claim.state,
            'run_id': claim.run_id,
            'cause': claim.cause,
        }

    def parked(self, principal: Principal, project_id: str) -> list[dict[str, Any]]:
        with Session(self.engine) as session:
            visibility.get_visible(session, project_id, principal)
        return [
            {
                'issue_number': c.issue_number,
                'issue_title': c.issue_title,
                'state': c.state,
                'run_id': c.run_id,
                'cause': c.cause,
            }
            for c in claims.parked(self.engine, project_id)
        ]

    @staticmethod
    def _require_operator(principal: Principal) -> None:
        if not may_control_afk(principal.role):
            raise forbidden('only operators can switch the auto-loop or reset a paused project')
