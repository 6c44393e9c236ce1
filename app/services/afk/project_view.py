"""A project as the API shows it: its settings (secrets masked) with what is true now, its active runs,
parked and ready issues, whether the AFK loop is paused, its next scheduled firing."""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from app.models import IssueClaim, Project, ProjectPublic
from app.services.afk import issues
from app.services.afk.rules import is_paused
from app.services.identity.accounts import Principal
from app.services.projects.visibility import get_visible
from app.services.runs import sql as run_sql
from app.services.scheduling.schedules import next_firing


def to_public(
    session: Session,
    project: Project,
    active_counts: dict[str, int] | None = None,
    awaiting_counts: dict[str, int] | None = None,
) -> ProjectPublic:
    """`active_counts` and `awaiting_counts` (every project's, read once for a list) are read here when not given."""
    if active_counts is None:
        active_counts = run_sql.active_counts_by_project(session.connection())
    if awaiting_counts is None:
        awaiting_counts = run_sql.awaiting_approval_by_project(session.connection())
    active = active_counts.get(project.id, 0)
    parked = session.exec(
        select(func.count())
        .select_from(IssueClaim)
        .where(col(IssueClaim.project_id) == project.id, col(IssueClaim.state) == 'parked')
    ).one()
    ready = issues.ready_count(session, project)  # forge: cached briefly; None when the forge cannot tell
    source = {k: ('********' if k == 'token' else v) for k, v in (project.issue_source or {}).items()}
    return ProjectPublic.model_validate(
        {
            **project.model_dump(
                exclude={'credentials_secret', 'credentials_username', 'hook_secret', 'on_push_by', 'badge_key'}
            ),
            'has_hook_secret': bool(project.hook_secret),
            'issue_source': source,
            'paused': is_paused(project.consecutive_failures),
            'active_runs': active,
            'awaiting_approval': awaiting_counts.get(project.id, 0),
            'parked_count': parked,
            'ready_count': ready,
            'has_credentials': bool(project.credentials_kind and project.credentials_secret),
            'next_schedule': next_firing(session, project.id),
        }
    )


def list_projects(engine: Engine, principal: Principal) -> list[ProjectPublic]:
    with Session(engine) as session:
        rows = session.exec(
            select(Project).where(col(Project.team_id).in_(principal.team_ids)).order_by(col(Project.name))
        ).all()
        active = run_sql.active_counts_by_project(session.connection())
        awaiting = run_sql.awaiting_approval_by_project(session.connection())
        return [to_public(session, p, active, awaiting) for p in rows]


def get_project(engine: Engine, principal: Principal, project_id: str) -> ProjectPublic:
    with Session(engine) as session:
        return to_public(session, get_visible(session, project_id, principal))
