"""A project as the API shows it: its settings (secrets masked) with what is true now, its active runs,
parked and ready issues, whether the AFK loop is paused and when its sweep looks for work next, its next scheduled
firing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from app.models import IssueClaim, Project, ProjectPublic
from app.services.afk import issues
from app.services.afk.rules import is_paused
from app.services.identity.accounts import Principal
from app.services.projects.visibility import get_visible
from app.services.runs import sql as run_sql
from app.services.scheduling.schedules import next_firing


@dataclass(frozen=True)
class SweepClock:
    """The answering server's AFK sweep (AfkLoop.sweep_clock): when it next looks for work (None: not scheduled here)
    and the global run cap it launches nothing at."""

    next_at: datetime | None
    global_run_cap: int


def to_public(
    session: Session,
    project: Project,
    active_counts: dict[str, int] | None = None,
    awaiting_counts: dict[str, int] | None = None,
    *,
    sweep: SweepClock | None = None,
) -> ProjectPublic:
    """`active_counts` and `awaiting_counts` (every project's, read once for a list) are read here when not given.
    `sweep`: the server's, said on a project whose loop is on."""
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
            **(sweep_facts(sweep, active_counts) if sweep is not None and project.auto_enabled else {}),
        }
    )


def sweep_facts(sweep: SweepClock, active_counts: dict[str, int]) -> dict[str, object]:
    """When the sweep next looks, and whether the active runs of every project (every team's: the cap is the
    server's) fill its global cap."""
    return {
        'afk_next_sweep_at': sweep.next_at,
        'at_global_run_cap': sum(active_counts.values()) >= sweep.global_run_cap,
    }


def list_projects(engine: Engine, principal: Principal, *, sweep: SweepClock | None = None) -> list[ProjectPublic]:
    with Session(engine) as session:
        rows = session.exec(
            select(Project).where(col(Project.team_id).in_(principal.team_ids)).order_by(col(Project.name))
        ).all()
        active = run_sql.active_counts_by_project(session.connection())
        awaiting = run_sql.awaiting_approval_by_project(session.connection())
        return [to_public(session, p, active, awaiting, sweep=sweep) for p in rows]


def get_project(
    engine: Engine, principal: Principal, project_id: str, *, sweep: SweepClock | None = None
) -> ProjectPublic:
    with Session(engine) as session:
        return to_public(session, get_visible(session, project_id, principal), sweep=sweep)
