"""Schedules: operators create, edit, pause, resume and delete them; everyone in the project's team reads
them and their firings. A schedule's cron is read in its time zone (services/scheduling/cron.py); its fixed parameters
are checked like a trigger's (runs.validate_request). Firing: services/scheduling/sweep.py."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, func, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core import ids
from app.core.errors import DomainError, edit_conflict, forbidden, not_found
from app.infra.db import compare_and_set, session_scope
from app.models import (
    FiringPublic,
    NextFiring,
    Project,
    Run,
    Schedule,
    ScheduleCreate,
    ScheduleFiring,
    SchedulePublic,
    ScheduleUpdate,
    User,
    as_utc,
    utcnow,
)
from app.services.identity import audit
from app.services.identity.accounts import Principal
from app.services.projects import visibility
from app.services.repositories.access import RepositoryAccess
from app.services.runs import admission
from app.services.runs.admit import validate_request
from app.services.scheduling import cron
from app.services.scheduling.sweep import SQL_FIRING, changed_while_due_text, firing_row

MAX_PER_PROJECT = 50
MAX_FIRINGS_PAGE = 200
_schedules: Table = Schedule.__table__  # type: ignore[attr-defined]


def compiled(expression: str, timezone: str) -> cron.CronTrigger:
    trigger = cron.compile_cron(expression, timezone)
    if isinstance(trigger, cron.Refusal):
        raise DomainError.from_refusal(trigger)
    return trigger


def preview(engine: Engine, principal: Principal, project_id: str, expression: str, timezone: str) -> list[datetime]:
    """The next slots of `expression` in `timezone` from now (the project must be visible; nothing is saved)."""
    with Session(engine) as session:
        visibility.get_visible(session, project_id, principal)
    return cron.upcoming(compiled(expression, timezone), utcnow())


def _require_operator(principal: Principal) -> None:
    if not principal.is_operator:
        raise forbidden('only operators can change schedules')


def _load(
    session: Session, principal: Principal, project_id: str, schedule_id: str, *, lock: bool = False
) -> tuple[Schedule, Project]:
    """`lock`: for a change, whose transaction then holds the row (PostgreSQL: a sweep's claim waits, or is seen)."""
    project = visibility.get_visible(session, project_id, principal)
    schedule = session.get(Schedule, schedule_id, with_for_update=lock)
    if schedule is None or schedule.project_id != project.id:
        raise not_found(f'schedule {schedule_id!r}')
    return schedule, project


def to_public(session: Session, schedule: Schedule, now: datetime, *, last: ScheduleFiring | None) -> SchedulePublic:
    owner = session.get(User, schedule.user_id)
    trigger = cron.compile_cron(schedule.cron, schedule.timezone)
    ahead = [] if schedule.paused or isinstance(trigger, cron.Refusal) else cron.upcoming(trigger, now)
    return SchedulePublic.model_validate(
        {
            **schedule.model_dump(),
            'variables': schedule.variables or {},
            'user_name': owner.name if owner else None,
            'upcoming': ahead,
            'last_firing': firing_public(session, last) if last else None,
        }
    )


def firing_public(session: Session, firing: ScheduleFiring) -> FiringPublic:
    run = session.get(Run, firing.run_id) if firing.run_id else None
    return FiringPublic.model_validate({**firing.model_dump(), 'run_status': run.status if run else None})


def _last_firings(session: Session, schedule_ids: list[str]) -> dict[str, ScheduleFiring]:
    if not schedule_ids:
        return {}
    newest = (
        select(col(ScheduleFiring.schedule_id), func.max(ScheduleFiring.slot).label('slot'))
        .where(col(ScheduleFiring.schedule_id).in_(schedule_ids))
        .group_by(col(ScheduleFiring.schedule_id))
        .subquery()
    )
    rows = session.exec(
        select(ScheduleFiring).join(
            newest,
            (col(ScheduleFiring.schedule_id) == newest.c.schedule_id) & (col(ScheduleFiring.slot) == newest.c.slot),
        )
    ).all()
    return {row.schedule_id: row for row in rows}


def list_schedules(engine: Engine, principal: Principal, project_id: str) -> list[SchedulePublic]:
    now = utcnow()
    with Session(engine) as session:
        visibility.get_visible(session, project_id, principal)
        rows = list(
            session.exec(
                select(Schedule).where(col(Schedule.project_id) == project_id).order_by(col(Schedule.name))
            ).all()
        )
        last = _last_firings(session, [row.id for row in rows])
        return [to_public(session, row, now, last=last.get(row.id)) for row in rows]


def get_schedule(engine: Engine, principal: Principal, project_id: str, schedule_id: str) -> SchedulePublic:
    with Session(engine) as session:
        schedule, _ = _load(session, principal, project_id, schedule_id)
        last = _last_firings(session, [schedule.id]).get(schedule.id)
        return to_public(session, schedule, utcnow(), last=last)


def find_schedule(engine: Engine, principal: Principal, schedule_id: str) -> SchedulePublic:
    """A schedule by its id alone (ids are unique across projects); 404 when its project is another team's."""
    with Session(engine) as session:
        schedule = session.get(Schedule, schedule_id)
        project = session.get(Project, schedule.project_id) if schedule else None
        if schedule is None or project is None or not visibility.visible(project, principal):
            raise not_found(f'schedule {schedule_id!r}')  # never reveal that another team's schedule exists
        last = _last_firings(session, [schedule.id]).get(schedule.id)
        return to_public(session, schedule, utcnow(), last=last)


def _check_parameters(
    repositories: RepositoryAccess, project: Project, *, branch: str, depth_level: str, target_framework: str
) -> None:
    validate_request(repositories, project, depth_level=depth_level, target_framework=target_framework, branch=branch)


def _checked_variables(variables: dict[str, str]) -> dict[str, str] | None:
    """As a trigger's own (its runs get them as one triggered with them would); None when there are none."""
    if refused := admission.validate_variables(variables):
        raise DomainError.from_refusal(refused)
    return dict(sorted(variables.items())) or None


def _variable_names(variables: dict[str, str] | None) -> list[str]:
    """What the audit log keeps of a schedule's variables: their names (a value may be a token pasted in)."""
    return sorted(variables or {})


def create_schedule(
    engine: Engine, principal: Principal, project_id: str, data: ScheduleCreate, repositories: RepositoryAccess
) -> SchedulePublic:
    _require_operator(principal)
    now = utcnow()
    trigger = compiled(data.cron, data.timezone)
    variables = _checked_variables(data.variables)
    with Session(engine) as session:
        project = visibility.get_visible(session, project_id, principal)
        session.expunge(project)
    _check_parameters(
        repositories, project, branch=data.branch, depth_level=data.depth_level, target_framework=data.target_framework
    )
    schedule = Schedule(
        id=ids.new_run_id(prefix='sch_'),
        project_id=project_id,
        name=data.name,
        cron=data.cron,
        timezone=data.timezone,
        branch=data.branch,
        depth_level=data.depth_level,
        target_framework=data.target_framework,
        catch_up=data.catch_up,
        variables=variables,
        paused=data.paused,
        user_id=principal.user_id,
        next_fire_at=None if data.paused else cron.slot_after(trigger, now),
        created_at=now,
        updated_at=now,
    )
    try:
        with session_scope(engine) as session:
            count = session.exec(
                select(func.count()).select_from(Schedule).where(col(Schedule.project_id) == project_id)
            ).one()
            if count >= MAX_PER_PROJECT:
                raise DomainError(
                    409, 'conflict', f'A project has at most {MAX_PER_PROJECT} schedules; delete one first.'
                )
            session.add(schedule)
            session.flush()
            details: dict[str, object] = {
                'cron': schedule.cron,
                **({'variables': _variable_names(variables)} if variables else {}),
            }
            _audit(session, principal, 'schedule.created', project, schedule, details=details)
    except IntegrityError as exc:
        raise _name_taken(data.name) from exc
    return get_schedule(engine, principal, project_id, schedule.id)


def _name_taken(name: str) -> DomainError:
    return DomainError(409, 'conflict', f'This project already has a schedule named {name!r}.', field='name')


def _audit(
    session: Session,
    principal: Principal,
    action: str,
    project: Project,
    schedule: Schedule,
    details: dict[str, object] | None = None,
) -> None:
    audit.record(
        session,
        principal,
        action,
        team_id=project.team_id,
        project_id=project.id,
        target=schedule.id,
        details={'name': schedule.name, **(details or {})},
    )


def update_schedule(
    engine: Engine,
    principal: Principal,
    project_id: str,
    schedule_id: str,
    data: ScheduleUpdate,
    repositories: RepositoryAccess,
) -> SchedulePublic:
    """Change what `data` names. Only the fields whose value differs from the schedule's are written and audited; a
    change to nothing writes nothing. `data.edit_version`, the edit version the editor read: when the schedule is no
    longer at it, 409 edit_conflict and nothing is written (the sweep's `version`, which every firing moves, is not
    compared: a firing is no one's edit). The write moves the edit version only from the one this transaction read,
    so of two edits racing on one version exactly one is saved."""
    _require_operator(principal)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items()}
    for key, value in changes.items():
        if value is None:
            raise DomainError(422, 'validation', f'{key} cannot be null', field=key)
    expected = changes.pop('edit_version', None)
    if 'variables' in changes:
        changes['variables'] = _checked_variables(changes['variables'])
    now = utcnow()
    with Session(engine) as session:
        current, project = _load(session, principal, project_id, schedule_id)
        session.expunge_all()
    if expected is not None and expected != current.edit_version:  # before the checks that read the repository
        raise _edit_conflict(current, expected)
    asked, changes = changes, _differing(current, changes)
    if not changes:  # nothing to record: the schedule stays as it was, unaudited
        return get_schedule(engine, principal, project_id, schedule_id)
    merged = {**current.model_dump(), **changes}
    trigger = compiled(merged['cron'], merged['timezone'])
    if {'branch', 'depth_level', 'target_framework'} & set(changes):
        _check_parameters(
            repositories,
            project,
            branch=merged['branch'],
            depth_level=merged['depth_level'],
            target_framework=merged['target_framework'],
        )
    try:
        with session_scope(engine) as session:
            schedule, project = _load(session, principal, project_id, schedule_id, lock=True)
            if expected is not None and expected != schedule.edit_version:
                raise _edit_conflict(schedule, expected)
            changes = _differing(schedule, asked)  # as it is now, should another edit have been saved since
            if changes:
                _write_edit(session, principal, project, schedule, changes, expected, trigger, now)
    except IntegrityError as exc:
        raise _name_taken(str(changes.get('name'))) from exc
    return get_schedule(engine, principal, project_id, schedule_id)


def _write_edit(
    session: Session,
    principal: Principal,
    project: Project,
    schedule: Schedule,
    changes: dict[str, Any],
    expected: int | None,
    trigger: cron.CronTrigger,
    now: datetime,
) -> None:
    """An edit's write, in the caller's transaction holding the schedule's row: the edit version moved on from the
    one read (or 409 edit_conflict, nothing written), the changes, the slot of an old rule recorded, the audit."""
    read = schedule.edit_version
    if not compare_and_set(session, _schedules, schedule.id, 'edit_version', read):
        session.refresh(schedule)  # another edit was saved between this one's read and its write
        raise _edit_conflict(schedule, read if expected is None else expected)
    schedule.edit_version = read + 1  # as the write above left it (the flush below writes the same)
    new_rule = bool({'cron', 'timezone'} & set(changes)) and not schedule.paused
    if new_rule:
        _record_unfired(session, schedule, now, 'edited')  # by the old rule, before it is replaced
    for key, value in changes.items():
        setattr(schedule, key, value)
    if new_rule:
        schedule.next_fire_at = cron.slot_after(trigger, now)  # the new rule's slots, from now on
    schedule.version += 1  # a sweep's claim of the old one matches nothing
    schedule.updated_at = now
    session.add(schedule)
    session.flush()
    said = {**changes, 'variables': _variable_names(changes['variables'])} if 'variables' in changes else changes
    _audit(session, principal, 'schedule.updated', project, schedule, details={'changed': said})


def _differing(schedule: Schedule, changes: dict[str, Any]) -> dict[str, Any]:
    """The changes that change something: a field whose value is the schedule's is left out."""
    return {key: value for key, value in changes.items() if getattr(schedule, key) != value}


def _edit_conflict(schedule: Schedule, read: int) -> DomainError:
    """409 for an edit made on edit version `read` of a schedule another edit has moved on from since."""
    return edit_conflict(f'Schedule “{schedule.name}”', read, schedule.edit_version, field='edit_version')


def set_paused(
    engine: Engine, principal: Principal, project_id: str, schedule_id: str, *, paused: bool
) -> SchedulePublic:
    """Pause: no slot fires until resumed (one due at the pause is recorded missed). Resume: the next slot after
    now (the paused ones are not missed: nobody wanted them)."""
    _require_operator(principal)
    now = utcnow()
    with session_scope(engine) as session:
        schedule, project = _load(session, principal, project_id, schedule_id, lock=True)
        if schedule.paused != paused:
            if paused:
                _pause(session, principal, project, schedule, now)
            else:
                schedule.paused = False
                schedule.next_fire_at = cron.slot_after(compiled(schedule.cron, schedule.timezone), now)
                schedule.version += 1
                schedule.updated_at = now
                session.add(schedule)
                _audit(session, principal, 'schedule.resumed', project, schedule)
    return get_schedule(engine, principal, project_id, schedule_id)


def _pause(
    session: Session,
    principal: Principal,
    project: Project,
    schedule: Schedule,
    now: datetime,
    details: dict[str, object] | None = None,
) -> None:
    """Pause a running schedule in the caller's transaction, with its bookkeeping: the slot due at the pause is
    recorded missed, the version moves (a sweep's claim of the old one matches nothing), and the audit entry."""
    _record_unfired(session, schedule, now, 'paused')
    schedule.paused = True
    schedule.next_fire_at = None
    schedule.version += 1
    schedule.updated_at = now
    session.add(schedule)
    _audit(session, principal, 'schedule.paused', project, schedule, details=details)


@dataclass(frozen=True)
class PausedSchedule:
    id: str
    name: str
    project_id: str
    team_id: str


def _owned_running(
    session: Session, user_id: str, team_ids: Collection[str], *, lock: bool
) -> list[tuple[Schedule, Project]]:
    """The running schedules `user_id` owns on the projects of these teams, by project then name; `lock`: their rows
    held to the end of the transaction (in id order), as `set_paused` holds its one."""
    if not team_ids:
        return []
    query = (
        select(Schedule, Project)
        .join(Project, col(Project.id) == col(Schedule.project_id))
        .where(
            col(Schedule.user_id) == user_id,
            col(Project.team_id).in_(sorted(team_ids)),
            col(Schedule.paused).is_(False),
        )
        .order_by(col(Schedule.id))
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update(of=Schedule)
    rows = session.exec(query).all()
    return sorted(rows, key=lambda row: (row[1].id, row[0].name))


def running_owned_by(session: Session, *, user_id: str, team_ids: Collection[str]) -> list[PausedSchedule]:
    """What `pause_owned_by` would pause now (nothing changes): a removal's preview says it."""
    return [
        PausedSchedule(schedule.id, schedule.name, project.id, project.team_id)
        for schedule, project in _owned_running(session, user_id, team_ids, lock=False)
    ]


def pause_owned_by(
    session: Session, principal: Principal, *, user_id: str, team_ids: Collection[str], details: dict[str, object]
) -> list[PausedSchedule]:
    """In the caller's transaction: pause the running schedules `user_id` owns on the projects of these teams (a
    person leaving them: their slots would fire as someone the teams no longer have, each one skipped). The same
    pause as an operator's (`set_paused`: the due slot recorded missed, the version moved, `schedule.paused` in the
    audit log, here with `details` saying why). The owner stays: resuming one fires it as them again, so an operator
    who wants it to go on makes it anew, as theirs."""
    now = utcnow()
    paused = []
    for schedule, project in _owned_running(session, user_id, team_ids, lock=True):
        _pause(session, principal, project, schedule, now, details)
        paused.append(PausedSchedule(schedule.id, schedule.name, project.id, project.team_id))
    return paused


def _record_unfired(session: Session, schedule: Schedule, now: datetime, change: str) -> None:
    """A change that moves the schedule's next slot past now (a new rule) or clears it (a pause) would drop a slot
    that is due and that no sweep claimed yet: its firing is recorded `missed` instead, saying why, in the change's
    transaction. Not fired, as Prefect and Airflow do not run an edited schedule's old slots: the new rule applies
    from the change on. A sweep that claimed the slot first keeps its own row (the insert yields on the slot's
    key), and a sweep after the change finds the slot neither due nor claimable (its version moved)."""
    trigger = cron.compile_cron(schedule.cron, schedule.timezone)
    due = cron.due_unfired(
        None if isinstance(trigger, cron.Refusal) else trigger,
        next_slot=as_utc(schedule.next_fire_at) if schedule.next_fire_at is not None else None,
        now=now,
    )
    if due is not None:
        first, last = due
        detail = changed_while_due_text(first, last, change)
        session.connection().execute(
            SQL_FIRING, firing_row(schedule.id, first, 'missed', now, f'schedule_{change}', detail)
        )


def delete_schedule(engine: Engine, principal: Principal, project_id: str, schedule_id: str) -> None:
    """The schedule and its history go; the runs it made stay (kind `scheduled`)."""
    _require_operator(principal)
    with session_scope(engine) as session:
        schedule, project = _load(session, principal, project_id, schedule_id)
        conn = session.connection()
        conn.execute(text('DELETE FROM schedulefiring WHERE schedule_id = :s'), {'s': schedule_id})
        _audit(session, principal, 'schedule.deleted', project, schedule)
        conn.execute(text('DELETE FROM schedule WHERE id = :s'), {'s': schedule_id})


def list_firings(
    engine: Engine,
    principal: Principal,
    project_id: str,
    schedule_id: str,
    *,
    before: datetime | None = None,
    limit: int = 50,
) -> list[FiringPublic]:
    """Newest slot first; `before` pages on (a slot of the previous page)."""
    if not 1 <= limit <= MAX_FIRINGS_PAGE:
        raise DomainError(422, 'validation', f'limit must be between 1 and {MAX_FIRINGS_PAGE}.', field='limit')
    with Session(engine) as session:
        _load(session, principal, project_id, schedule_id)
        query = select(ScheduleFiring).where(col(ScheduleFiring.schedule_id) == schedule_id)
        if before is not None:
            query = query.where(col(ScheduleFiring.slot) < before)
        rows = session.exec(query.order_by(col(ScheduleFiring.slot).desc()).limit(limit)).all()
        return [firing_public(session, row) for row in rows]


def next_firing(session: Session, project_id: str) -> NextFiring | None:
    """The project's soonest slot among its running schedules (its card: "next run in 4 min · nightly")."""
    row = session.exec(
        select(Schedule)
        .where(col(Schedule.project_id) == project_id, col(Schedule.next_fire_at).is_not(None))
        .order_by(col(Schedule.next_fire_at), col(Schedule.name))
        .limit(1)
    ).first()
    if row is None or row.next_fire_at is None:
        return None
    return NextFiring(schedule_id=row.id, name=row.name, at=row.next_fire_at)


def team_of(engine: Engine, project_id: str) -> str | None:
    """The project's team (a change event is addressed to it)."""
    with engine.connect() as conn:
        return conn.execute(text('SELECT team_id FROM project WHERE id = :p'), {'p': project_id}).scalar()
