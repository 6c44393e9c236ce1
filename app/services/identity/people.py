"""People in an operator's teams: who they are, their teams and tokens; adding a person (who gets a first token),
giving someone another token, changing a person's role and removing them from the caller's teams (offboarding).
Operators only, except that everyone may give themselves another token (personal tokens:
`token_rules.token_management_refusal`). Everything is scoped to the caller's teams: a person who shares no team with
the caller does not exist for them (absent from lists, 404 by id), and a person's other teams are never named. A
token's plain value exists only in the answer that creates it; the database keeps its SHA-256 hash. Each change
writes its audit entry in the change's transaction.

Every team keeps an operator (`people_rules.teams_left_without_operator`): a demotion or a removal that would leave
one without is a 409 `last_operator`. How the database decides when two operators demote or remove each other at
once: each change locks the person's row, then the rows of the teams it counts operators in (in id order, so two
changes never wait on each other in a circle; PostgreSQL `FOR NO KEY UPDATE`, which a new member's or project's
foreign-key check does not wait for; SQLite's BEGIN IMMEDIATE serialises writers anyway), and only then reads the
roles and counts. The second change waits for the first, then counts what it left. The caller's own role and teams
are read again inside the transaction too: an operator demoted or removed a moment ago (their token's Principal is
cached for a few seconds) is refused.

What a role change or removal changes takes effect at once: the API publishes the person's token digests
(`Removal.digests`, `RoleChange.digests`) on the bus as a revocation does, so every instance reloads them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from app.core.errors import DomainError, Refusal, forbidden, not_found
from app.core.people_rules import (
    RemovalRefusal,
    last_admin_refusal,
    last_operator_refusal,
    removal_refusal,
    role_change_refusal,
    teams_left_without_operator,
)
from app.core.token_rules import TokenRefusal, token_management_refusal
from app.infra.db import advisory_lock_id, insert_new, read_only, session_scope
from app.models import ApiToken, Project, Role, Team, TeamMember, User, as_utc
from app.services.identity import audit
from app.services.identity.accounts import Principal, new_api_token, new_user
from app.services.scheduling import schedules


@dataclass(frozen=True)
class TokenSummary:
    id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None = None  # to the minute; None: never used since it was made


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    role: str
    teams: list[str]  # only the teams the caller shares with them
    created_at: datetime
    tokens: list[TokenSummary] = field(default_factory=list)
    # what token_rules.token_management_refusal reads, so the People page offers what the server allows
    in_other_teams: bool = False  # also in a team the caller is not in (which one is never said)
    is_admin: bool = False  # a deployment administrator
    # the deployment's only administrator who is an operator: not made a builder, nor removed from their last team
    last_admin: bool = False


@dataclass(frozen=True)
class IssuedToken:
    id: str
    user_id: str
    user_name: str
    name: str
    created_at: datetime
    token: str  # the plain value: shown once, never stored


@dataclass(frozen=True)
class TeamInfo:
    id: str
    name: str


def _require_operator(principal: Principal) -> None:
    if not principal.is_operator:
        raise forbidden('only operators can list and add people (your own tokens: GET /api/tokens)')


REFUSAL_DETAIL: dict[TokenRefusal, str] = {
    'not_yours': 'only operators manage the tokens of other people ({name}); you manage your own',
    'other_team': '{name} is also in a team you are not in: only someone in all of their teams can create or revoke '
    'their tokens',
    'admin': '{name} is a deployment administrator: only a deployment administrator can create or revoke their tokens',
}


def refusal_detail(name: str, refusal: TokenRefusal) -> str:
    return REFUSAL_DETAIL[refusal].format(name=name)


# An administrator removed from every team keeps the row (and its flags) for the audit trail but manages nobody.
_ADMIN_OPERATOR_IN_A_TEAM = (
    col(User.is_admin),
    col(User.role) == Role.operator.value,
    col(User.id).in_(select(TeamMember.user_id)),
)


def _facts(session: Session, principal: Principal, user_ids: Collection[str]) -> dict[str, tuple[bool, bool, bool]]:
    """user id -> (also in a team the caller is not in, a deployment administrator, the deployment's only
    administrator who is an operator: `people_rules.last_admin_refusal`'s case, so the page does not offer what the
    server refuses)."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    outside = set(
        session.exec(
            select(TeamMember.user_id).where(
                col(TeamMember.user_id).in_(ids), col(TeamMember.team_id).not_in(principal.team_ids)
            )
        ).all()
    )
    admins = set(session.exec(select(User.id).where(col(User.id).in_(ids), col(User.is_admin))).all())
    admin_operators = session.exec(select(User.id).where(*_ADMIN_OPERATOR_IN_A_TEAM).limit(2)).all()
    last_admin = admin_operators[0] if len(admin_operators) == 1 else None
    return {user_id: (user_id in outside, user_id in admins, user_id == last_admin) for user_id in ids}


def manage_refusals(
    session: Session, principal: Principal, user_ids: Collection[str]
) -> dict[str, TokenRefusal | None]:
    """user id -> why the caller may not create or revoke their tokens (None: they may), by the rule the tokens page
    reads too (token_rules.token_management_refusal)."""
    return {
        user_id: token_management_refusal(
            caller_is_operator=principal.is_operator,
            is_self=user_id == principal.user_id,
            in_other_teams=outside,
            is_admin=admin,
            caller_is_admin=principal.is_admin,
        )
        for user_id, (outside, admin, _) in _facts(session, principal, user_ids).items()
    }


def require_manageable(session: Session, principal: Principal, user_ids: Collection[str]) -> None:
    """403 (`reason`: not_yours, other_team or admin) unless the caller may create and revoke every one of these
    people's tokens (`manage_refusals`). The other team is not named."""
    for user_id, refusal in manage_refusals(session, principal, user_ids).items():
        if refusal is not None:
            user = session.get(User, user_id)
            raise DomainError(403, 'forbidden', refusal_detail(user.name if user else user_id, refusal), reason=refusal)


def list_teams(engine: Engine, principal: Principal) -> list[TeamInfo]:
    """The caller's own teams (any role: a builder may know which teams they are in)."""
    with Session(engine) as session:
        rows = session.exec(select(Team).where(col(Team.id).in_(principal.team_ids)).order_by(col(Team.name))).all()
    return [TeamInfo(team.id, team.name) for team in rows]


def _shared_teams(session: Session, principal: Principal, user_id: str | None = None) -> dict[str, list[str]]:
    """user id -> the caller's teams that person is in (people outside them are absent); of one person: `user_id`."""
    query = select(TeamMember).where(col(TeamMember.team_id).in_(principal.team_ids))
    if user_id is not None:
        query = query.where(col(TeamMember.user_id) == user_id)
    members = session.exec(query).all()
    teams: dict[str, list[str]] = defaultdict(list)
    for member in members:
        teams[member.user_id].append(member.team_id)
    return {user: sorted(ids) for user, ids in teams.items()}


def list_people(engine: Engine, principal: Principal) -> list[Person]:
    """The people in the caller's teams with their tokens (oldest first), by name."""
    _require_operator(principal)
    with Session(engine) as session:
        return _people(session, principal)


def _people(session: Session, principal: Principal, user_id: str | None = None) -> list[Person]:
    """The people in the caller's teams (or the one of them with this id), as `list_people` answers them."""
    teams = _shared_teams(session, principal, user_id)
    users = session.exec(select(User).where(col(User.id).in_(list(teams)))).all()
    tokens = session.exec(
        select(ApiToken).where(col(ApiToken.user_id).in_(list(teams))).order_by(col(ApiToken.created_at))
    ).all()
    facts = _facts(session, principal, list(teams))
    by_user: dict[str, list[TokenSummary]] = defaultdict(list)
    for token in tokens:
        used = as_utc(token.last_used_at)
        by_user[token.user_id].append(TokenSummary(token.id, token.name, as_utc(token.created_at), used))
    people = [
        Person(
            user.id,
            user.name,
            user.role,
            teams[user.id],
            as_utc(user.created_at),
            by_user[user.id],
            *facts[user.id],
        )
        for user in users
    ]
    return sorted(people, key=lambda person: (person.name.casefold(), person.id))


def _team_for_new_person(principal: Principal, team_id: str | None) -> str:
    if team_id is None:
        if len(principal.team_ids) == 1:
            return next(iter(principal.team_ids))
        raise DomainError(422, 'validation', 'team_id: choose one of your teams', field='team_id')
    if team_id not in principal.team_ids:
        raise DomainError(422, 'validation', 'team_id must be one of your teams', field='team_id')
    return team_id


def require_unused_name(session: Session, name: str, team_ids: Collection[str], *, where: str | None = None) -> None:
    """The rule for a new person's name, the API's and `runboard users add`'s: 409 when someone of that name is
    already in one of these teams (`where` names them as the caller knows them; None: the one they are in, by id), as
    `runboard users revoke NAME` and the audit log go by name. (Names are not unique across teams, so no index
    decides this; two adds of one name at the same instant may both pass.)"""
    taken = session.exec(
        select(TeamMember.team_id)
        .join(User, col(User.id) == col(TeamMember.user_id))
        .where(col(TeamMember.team_id).in_(sorted(team_ids)), col(User.name) == name)
        .order_by(col(TeamMember.team_id))
    ).first()
    if taken is not None:
        raise DomainError(409, 'conflict', f'someone named {name!r} is already in {where or taken}', field='name')


def add_person(
    engine: Engine, principal: Principal, *, name: str, role: Role, team_id: str | None, token_name: str
) -> tuple[Person, IssuedToken]:
    """Add a person to one of the caller's teams, with a first token. A name already used by someone in the
    caller's teams is refused (409, `require_unused_name`)."""
    _require_operator(principal)
    team = _team_for_new_person(principal, team_id)
    with session_scope(engine) as session:
        require_unused_name(session, name, principal.team_ids, where='your teams')
        user = new_user(name, role)
        session.add(user)
        session.flush()
        session.add(TeamMember(team_id=team, user_id=user.id))
        row, secret = new_api_token(user.id, token_name)
        session.add(row)
        session.flush()
        audit.record(session, principal, 'person.created', team_id=team, target=user.id, details={'name': name})
        audit.record(
            session, principal, 'token.created', team_id=team, target=row.id, details={'of': name, 'name': token_name}
        )
        person = Person(user.id, name, role.value, [team], as_utc(user.created_at))
        person.tokens.append(TokenSummary(row.id, row.name, as_utc(row.created_at)))
    return person, IssuedToken(row.id, user.id, name, row.name, as_utc(row.created_at), secret)


def issue_token(engine: Engine, principal: Principal, *, user_id: str | None = None, name: str) -> IssuedToken:
    """A new token for a person in the caller's teams, the caller by default (404 for anyone else; 403 for someone
    a builder, someone also in another team, or a deployment administrator: `require_manageable`). It acts as that
    person, with their role. Their other tokens keep working."""
    user_id = user_id or principal.user_id
    with session_scope(engine) as session:
        # FOR SHARE on the person first: a removal under way (FOR UPDATE) ends before their teams are read here, so a
        # token is never made for someone it leaves in no team (its delete would not see the token)
        session.exec(select(User.id).where(col(User.id) == user_id).with_for_update(read=True)).first()
        shared = sorted(
            session.exec(
                select(TeamMember.team_id).where(
                    col(TeamMember.user_id) == user_id, col(TeamMember.team_id).in_(principal.team_ids)
                )
            ).all()
        )
        user = session.get(User, user_id) if shared else None
        if user is None:
            raise not_found(f'person {user_id!r}')
        require_manageable(session, principal, [user_id])
        taken = session.exec(
            select(ApiToken.id).where(col(ApiToken.user_id) == user_id, col(ApiToken.name) == name)
        ).first()
        if taken is not None:
            raise DomainError(409, 'conflict', f'{user.name} already has a token named {name!r}', field='name')
        row, secret = new_api_token(user_id, name)
        session.add(row)
        session.flush()
        audit.record(
            session,
            principal,
            'token.created',
            team_id=shared[0],
            target=row.id,
            details={'of': user.name, 'name': name},
        )
        return IssuedToken(row.id, user.id, user.name, row.name, as_utc(row.created_at), secret)


ROLE_REFUSAL_DETAIL: dict[TokenRefusal, str] = {
    'not_yours': 'only operators change roles ({name})',
    'other_team': '{name} is also in a team you are not in: a role holds in every team of theirs, so only someone in '
    'all of their teams can change it',
    'admin': '{name} is a deployment administrator: only a deployment administrator can change their role',
}
REMOVAL_REFUSAL_DETAIL: dict[RemovalRefusal, str] = {
    'not_yours': 'only operators remove people from their teams ({name})',
    'admin': '{name} is a deployment administrator: only a deployment administrator can remove them from a team',
}
REMOVED_SCHEDULE_WHY = 'owner_removed'  # a schedule.paused entry's `why` when its owner left the project's team


@dataclass(frozen=True)
class RoleChange:
    person: Person  # as the caller's list shows them now
    changed: bool  # False: they had that role already (nothing written)
    digests: list[str] = field(default_factory=list, repr=False)  # their tokens' hashes: every instance reloads them


@dataclass(frozen=True)
class ProjectRef:
    id: str
    name: str


@dataclass(frozen=True)
class Removal:
    """What removing a person from the caller's teams did (`done`), or would do (a preview: nothing changed)."""

    user_id: str
    name: str
    teams: list[str]  # the caller's teams they leave
    in_other_teams: bool  # still in a team the caller is not in (never named): their tokens keep working there
    tokens_revoked: list[str]  # the ids of their tokens deleted, as they are in no team any more (else none)
    schedules_paused: list[schedules.PausedSchedule]  # theirs, on the projects of the teams they leave
    push_rules_as_them: list[ProjectRef]  # projects of those teams whose push rules start runs as them (untouched)
    done: bool
    digests: list[str] = field(default_factory=list, repr=False)  # every token of theirs: each instance reloads them


def _require_operator_to(principal: Principal, what: str) -> None:
    if not principal.is_operator:
        raise DomainError(403, 'forbidden', f'only operators {what}', reason='not_yours')


def _person_row(session: Session, user_id: str, *, lock: bool, exclusive: bool = False) -> User | None:
    """The person's row, read now; `lock`: held to the end of the transaction (the first lock every role change and
    removal takes, so two of them on one person go one after the other). `exclusive` (a removal): FOR UPDATE, which
    `issue_token`'s FOR SHARE waits for, so no token of theirs is made meanwhile and outlives the removal; else FOR
    NO KEY UPDATE (a role change: new tokens or runs of theirs need not wait)."""
    query = select(User).where(col(User.id) == user_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update(key_share=not exclusive)
    return session.exec(query).first()


def _teams_of(session: Session, user_id: str) -> set[str]:
    return set(session.exec(select(TeamMember.team_id).where(col(TeamMember.user_id) == user_id)).all())


def _caller_now(session: Session, principal: Principal, what: str) -> tuple[User, set[str]]:
    """The caller's row and teams as the database has them now (their token's Principal may be seconds old): an
    operator demoted or removed meanwhile is refused, and only the teams they are still in count as theirs."""
    caller = session.get(User, principal.user_id)
    if caller is None or caller.role != Role.operator.value:
        raise DomainError(403, 'forbidden', f'only operators {what}', reason='not_yours')
    return caller, _teams_of(session, principal.user_id) & set(principal.team_ids)


def _lock_teams(session: Session, team_ids: Collection[str]) -> None:
    """Lock the teams' rows, in id order, until the transaction ends: the last-operator count that follows is then
    the only one over these teams (PostgreSQL `FOR NO KEY UPDATE`; SQLite's writers are serialised already)."""
    if team_ids:
        session.exec(
            select(Team.id)
            .where(col(Team.id).in_(sorted(team_ids)))
            .order_by(col(Team.id))
            .with_for_update(key_share=True)
        ).all()


def _operators(session: Session, team_ids: Collection[str]) -> dict[str, set[str]]:
    """team id -> the user ids of its operators, read now."""
    rows = session.exec(
        select(TeamMember.team_id, User.id)
        .join(User, col(User.id) == col(TeamMember.user_id))
        .where(col(TeamMember.team_id).in_(sorted(team_ids)), col(User.role) == Role.operator.value)
    ).all()
    found: dict[str, set[str]] = defaultdict(set)
    for team, user in rows:
        found[team].add(user)
    return found


def _digests(session: Session, user_id: str) -> list[str]:
    return list(session.exec(select(ApiToken.token_hash).where(col(ApiToken.user_id) == user_id)).all())


def _refuse_last_operator(
    session: Session, user: User, teams: Collection[str], *, role_after: str | None, caller: Principal
) -> None:
    stuck = teams_left_without_operator(
        person_id=user.id, role=user.role, role_after=role_after, teams=teams, operators=_operators(session, teams)
    )
    named = [team for team in stuck if team in caller.team_ids]  # a team the caller is not in is never named
    refusal = last_operator_refusal(
        user.name, named or stuck, leaving=role_after is None, is_self=user.id == caller.user_id
    )
    if refusal is not None:
        raise DomainError.from_refusal(refusal)


ADMINS_LOCK = advisory_lock_id('runboard.deployment-admins')


def _refuse_last_admin(session: Session, user: User, *, role_after: str | None, leaves_every_team: bool) -> None:
    """409 `last_admin` (`people_rules.last_admin_refusal`). Two administrators demoting each other at once would each
    count the other: on PostgreSQL such changes take one transaction lock, one after the other, before counting (a
    lock of its own, not the other's row, which the other change holds: no deadlock); SQLite serialises writers."""
    if not user.is_admin or user.role != Role.operator.value:
        return
    if session.get_bind().dialect.name == 'postgresql':
        session.connection().execute(select(func.pg_advisory_xact_lock(ADMINS_LOCK)))
    others = session.exec(
        select(func.count()).select_from(User).where(*_ADMIN_OPERATOR_IN_A_TEAM, col(User.id) != user.id)
    ).one()
    refusal = last_admin_refusal(
        user.name,
        is_admin=True,
        role=user.role,
        role_after=role_after,
        leaves_every_team=leaves_every_team,
        other_admin_operators=others,
    )
    if refusal is not None:
        raise DomainError.from_refusal(refusal)


def change_role(engine: Engine, principal: Principal, user_id: str, role: Role) -> RoleChange:
    """Operators: make a person in their teams an operator or a builder (404 for anyone else). A role holds in
    every team of theirs, so it is refused (403, `reason`) for whom the caller may not manage tokens of
    (`people_rules.role_change_refusal`: someone also in a team the caller is not in, a deployment administrator
    unless the caller is one). Making a team's last operator a builder is a 409 `last_operator`, the caller
    demoting themselves too. The same role again answers the person unchanged and writes nothing; a change writes
    `person.role_changed` (from, to) in each team the two share."""
    what = 'change roles'
    _require_operator_to(principal, what)
    with session_scope(engine) as session:
        user = _person_row(session, user_id, lock=True)
        theirs = _teams_of(session, user_id)
        caller, mine = _caller_now(session, principal, what)
        shared = sorted(theirs & mine)
        if user is None or not shared:
            raise not_found(f'person {user_id!r}')
        refusal = role_change_refusal(
            caller_is_operator=True,
            is_self=user.id == principal.user_id,
            in_other_teams=bool(theirs - mine),
            is_admin=user.is_admin,
            caller_is_admin=caller.is_admin,
        )
        if refusal is not None:
            detail = ROLE_REFUSAL_DETAIL[refusal].format(name=user.name)
            raise DomainError(403, 'forbidden', detail, reason=refusal)
        if user.role == role.value:
            return RoleChange(_people(session, principal, user.id)[0], changed=False)
        _lock_teams(session, theirs)
        _refuse_last_operator(session, user, theirs, role_after=role.value, caller=principal)
        _refuse_last_admin(session, user, role_after=role.value, leaves_every_team=False)
        before = user.role
        user.role = role.value
        session.add(user)
        session.flush()
        for team in shared:
            details = {'name': user.name, 'from': before, 'to': role.value}
            audit.record(session, principal, 'person.role_changed', team_id=team, target=user.id, details=details)
        return RoleChange(_people(session, principal, user.id)[0], changed=True, digests=_digests(session, user.id))


def _removal(session: Session, principal: Principal, user_id: str, *, apply: bool) -> Removal:
    """The one path of a removal and its preview: the same checks and the same findings; `apply` does it."""
    what = 'remove people from their teams'
    user = _person_row(session, user_id, lock=apply, exclusive=True)
    theirs = _teams_of(session, user_id)
    caller, mine = _caller_now(session, principal, what)
    shared = sorted(theirs & mine)
    if user is None or not shared:
        raise not_found(f'person {user_id!r}')
    refusal = removal_refusal(caller_is_operator=True, is_admin=user.is_admin, caller_is_admin=caller.is_admin)
    if refusal is not None:
        raise DomainError(403, 'forbidden', REMOVAL_REFUSAL_DETAIL[refusal].format(name=user.name), reason=refusal)
    if apply:
        _lock_teams(session, shared)
    _refuse_last_operator(session, user, shared, role_after=None, caller=principal)
    others = theirs - set(shared)
    _refuse_last_admin(session, user, role_after=None, leaves_every_team=not others)
    tokens = session.exec(select(ApiToken).where(col(ApiToken.user_id) == user.id).order_by(col(ApiToken.id))).all()
    revoked = [] if others else [token.id for token in tokens]
    projects = session.exec(
        select(Project)
        .where(col(Project.team_id).in_(shared), col(Project.on_push_by) == user.id)
        .order_by(col(Project.id))
    ).all()
    pushing = [ProjectRef(project.id, project.name) for project in projects if project.on_push]
    if not apply:
        paused = schedules.running_owned_by(session, user_id=user.id, team_ids=shared)
    else:
        conn = session.connection()
        conn.execute(delete(TeamMember).where(col(TeamMember.user_id) == user.id, col(TeamMember.team_id).in_(shared)))
        if revoked:
            conn.execute(delete(ApiToken).where(col(ApiToken.id).in_(revoked)))
        why: dict[str, object] = {'why': REMOVED_SCHEDULE_WHY, 'owner': user.name}
        paused = schedules.pause_owned_by(session, principal, user_id=user.id, team_ids=shared, details=why)
        for team in shared:
            details = {'name': user.name, 'role': user.role, 'tokens_revoked': len(revoked)}
            audit.record(session, principal, 'person.removed', team_id=team, target=user.id, details=details)
    return Removal(
        user.id,
        user.name,
        shared,
        bool(others),
        revoked,
        paused,
        pushing,
        done=apply,
        digests=[token.token_hash for token in tokens],
    )


def removal_preview(engine: Engine, principal: Principal, user_id: str) -> Removal:
    """What `remove_person` would do now (nothing changes), refused as it would be: what the confirmation says."""
    _require_operator_to(principal, 'remove people from their teams')
    with Session(read_only(engine)) as session:
        return _removal(session, principal, user_id, apply=False)


def remove_person(engine: Engine, principal: Principal, user_id: str) -> Removal:
    """Operators: remove a person from every team the caller shares with them (404 for anyone else), in one
    transaction. Someone also in a team the caller is not in stays there (it is not named); a deployment
    administrator is removed only by another one (403 `reason` admin); a team's last operator is not removed
    (409 `last_operator`), the caller leaving themselves too. A person left in no team at all has every API token
    deleted (`digests`: the API makes every instance forget them). Their running schedules on the projects of the
    teams they leave are paused (`schedules.pause_owned_by`, each `schedule.paused` in the audit log); the projects
    of those teams whose push rules start runs as them are named, not changed (an operator saves the rules again to
    own them). `person.removed` in each team left."""
    _require_operator_to(principal, 'remove people from their teams')
    with session_scope(engine) as session:
        return _removal(session, principal, user_id, apply=True)


def teams_to_make(named: Sequence[str], existing: Collection[str], *, new_team: bool) -> list[str] | Refusal:
    """Pure: which of the teams a server-side add names are made for it (those that do not exist yet), or why not. A
    team nobody made is refused unless `new_team` says to make it, as a typo would otherwise make a team of its own
    with the person alone in it; except on a database with no team at all, whose first person (the first admin)
    needs their team made, and where no name can be a typo of another."""
    missing = [team for team in dict.fromkeys(named) if team not in existing]
    if not missing or new_team or not existing:
        return missing
    known = sorted(existing)
    listed = ', '.join(known[:10]) + (f' and {len(known) - 10} more' if len(known) > 10 else '')
    unknown = ', '.join(repr(team) for team in missing)
    return Refusal(422, 'unknown_team', f'no team {unknown} (the teams: {listed})', field='team')


def add_person_on_server(
    engine: Engine, *, name: str, role: Role, team_ids: Sequence[str], is_admin: bool = False, new_team: bool = False
) -> tuple[User, str]:
    """`runboard users add`: a person in these teams with a first token (its plain value returned, shown once), by
    the API's rules where they apply: a name already in one of the teams is 409 (`require_unused_name`), an unknown
    team 422 `unknown_team` unless made (`teams_to_make`). Each team gets the `person.created` and `token.created`
    entries the UI's Add person writes, by `audit.SERVER_COMMAND_ACTOR` (nobody signed in, no token)."""
    teams = list(dict.fromkeys(team_ids))
    with session_scope(engine) as session:
        existing = session.exec(select(Team.id)).all()
        made = teams_to_make(teams, existing, new_team=new_team)
        if isinstance(made, Refusal):
            raise DomainError.from_refusal(made)
        if made:  # another add making the same team at once: the database keeps one
            insert_new(session.connection(), Team.__table__, [{'id': team, 'name': team} for team in made])  # type: ignore[attr-defined]
        require_unused_name(session, name, teams)
        user = new_user(name, role, is_admin=is_admin)
        session.add(user)
        session.flush()
        for team in teams:
            session.add(TeamMember(team_id=team, user_id=user.id))
        row, secret = new_api_token(user.id)
        session.add(row)
        session.flush()
        person = {'name': name, 'role': role.value} | ({'admin': True} if is_admin else {})
        token, actor = {'of': name, 'name': row.name}, audit.SERVER_COMMAND_ACTOR
        for team in teams:
            audit.record(session, None, 'person.created', team_id=team, target=user.id, details=person, actor=actor)
            audit.record(session, None, 'token.created', team_id=team, target=row.id, details=token, actor=actor)
    return user, secret
