"""Listing and revoking API tokens: everyone their own (personal tokens), operators also those of the people in their
teams (`people.require_manageable`); revoking by name is the operators'. A revoked token is deleted, so it
fails on every instance that asks the database; instances that cached it drop it when the revocation
reaches them over the event bus (in-process, or Redis pub/sub in team mode), not after a TTL.

Revoking by a person's name: names are unique within a team, not across teams, so two people of one name may
both be in the caller's teams, one of them also in a team the caller is not in. The name takes the one person of
that name the caller may manage (people.manage_refusals) and leaves the others alone, saying so; it is refused
when the caller manages none of them (403) or several (409 ambiguous_name: their tokens are revoked by id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, text

from app.core.errors import DomainError, Refusal, forbidden
from app.core.token_rules import TokenRefusal
from app.infra.db import session_scope
from app.models import as_utc
from app.services.identity import audit
from app.services.identity.accounts import Principal
from app.services.identity.people import manage_refusals, refusal_detail, require_manageable

REVOKED_EVENT = 'auth.revoked'


@dataclass(frozen=True)
class TokenInfo:
    id: str
    user_id: str
    user_name: str
    role: str
    name: str
    created_at: datetime
    last_used_at: datetime | None = None  # to the minute; None: never used since it was made


def _require_operator(principal: Principal) -> None:
    if not principal.is_operator:
        raise forbidden('only operators revoke tokens by name (revoke your own by id: `runboard tokens revoke ID`)')


def _teams_sql(principal: Principal) -> tuple[str, dict]:
    names = {f't{i}': team for i, team in enumerate(sorted(principal.team_ids))}
    return ', '.join(f':{name}' for name in names) or "''", names


_VISIBLE = (
    'FROM apitoken t JOIN "user" u ON u.id = t.user_id WHERE EXISTS (SELECT 1 FROM teammember m '
    'WHERE m.user_id = u.id AND m.team_id IN ({teams}))'
)


def list_tokens(engine: Engine, principal: Principal) -> list[TokenInfo]:
    """An operator: the tokens of the people in their teams; anyone else: their own (never the secret, which is not
    stored)."""
    teams, params = _teams_sql(principal)
    own = '' if principal.is_operator else ' AND u.id = :me'
    with session_scope(engine) as session:
        rows = (
            session.connection()
            .execute(
                text(
                    'SELECT t.id, u.id, u.name, u.role, t.name, t.created_at, t.last_used_at '
                    + _VISIBLE.format(teams=teams)
                    + own
                    + ' ORDER BY u.name, t.created_at, t.id'
                ),
                {**params, 'me': principal.user_id},
            )
            .all()
        )
    return [  # SQLite hands back text
        TokenInfo(row[0], row[1], row[2], row[3], row[4], as_utc(row[5]), as_utc(row[6])) for row in rows
    ]


@dataclass(frozen=True)
class LeftAlone:
    """Someone of the name a revocation went by whose tokens it did not touch, and why."""

    user_id: str
    name: str
    reason: TokenRefusal
    detail: str


@dataclass(frozen=True)
class Revocation:
    ids: list[str]
    digests: list[str]  # the revoked tokens' hashes, for the instances' caches
    user_id: str | None = None  # by name: whose tokens
    left_alone: list[LeftAlone] = field(default_factory=list)


def person_by_name(name: str, people: Sequence[tuple[str, TokenRefusal | None]]) -> str | Refusal:
    """Pure: whose tokens revoking by `name` takes, given the people of that name in the caller's teams (id, why the
    caller may not manage them or None): the one the caller manages. Else why not: nobody of that name (404), none
    the caller manages (403, the reason), or several (409: a name cannot say which)."""
    if not people:
        return Refusal(404, 'not_found', f'no one named {name!r} in your teams', field='user')
    managed = [user_id for user_id, refusal in people if refusal is None]
    if len(managed) == 1:
        return managed[0]
    if managed:
        return Refusal(
            409,
            'ambiguous_name',
            f'{len(managed)} people named {name} are in your teams ({", ".join(managed)}): revoke their tokens one '
            "by one, by id (`runboard tokens list --json` gives each token's user_id, then `runboard tokens revoke "
            'TOKEN_ID`)',
            field='user',
            extra={'user_ids': managed},
        )
    reasons = [refusal for _, refusal in people if refusal is not None]
    detail = refusal_detail(name, reasons[0])
    if len(people) > 1:
        detail = f'none of the {len(people)} people named {name} in your teams is yours to manage: {detail}'
    return Refusal(403, 'forbidden', detail, extra={'reason': reasons[0]})


LOCAL_TOKEN_DETAIL = (
    "it is the token this machine's browser and the CLI sign in with (credentials.json in the data directory): "
    'revoked, both would be locked out until the server restarts. To replace it, stop the server, delete '
    'credentials.json and start it again: it makes a new one'
)


def revoke(
    engine: Engine,
    principal: Principal,
    *,
    token_id: str | None = None,
    user_name: str | None = None,
    kept_digest: str | None = None,
) -> Revocation:
    """Delete one token, or (operators) every token of the person of that name the caller manages (`person_by_name`),
    in the caller's teams. 403, and nothing revoked, when the token is not the caller's and they are a builder, or
    its owner is also in another team or is a deployment administrator (and the caller is not):
    `people.require_manageable`. 409 `local_token`, and nothing revoked, for the token of `kept_digest` (local mode:
    the one its browser and CLI sign in with)."""
    if not token_id:
        _require_operator(principal)
    teams, params = _teams_sql(principal)
    left_alone: list[LeftAlone] = []
    with session_scope(engine) as session:
        conn = session.connection()
        if token_id:
            rows = conn.execute(
                text(f'SELECT t.id, t.token_hash, u.name, u.id {_VISIBLE.format(teams=teams)} AND t.id = :key'),
                {**params, 'key': token_id},
            ).all()
            if not rows:
                raise DomainError(404, 'not_found', f'token {token_id!r} not found in your teams')
            require_manageable(session, principal, [rows[0][3]])
            owner = None
        else:
            named = (
                conn.execute(
                    text(
                        'SELECT u.id FROM "user" u WHERE u.name = :name AND EXISTS (SELECT 1 FROM teammember m '
                        f'WHERE m.user_id = u.id AND m.team_id IN ({teams})) ORDER BY u.id'
                    ),
                    {**params, 'name': user_name},
                )
                .scalars()
                .all()
            )
            refusals = manage_refusals(session, principal, named)
            chosen = person_by_name(str(user_name), [(user_id, refusals[user_id]) for user_id in named])
            if isinstance(chosen, Refusal):
                raise DomainError.from_refusal(chosen)
            owner = chosen
            left_alone = [
                LeftAlone(user_id, str(user_name), refusal, refusal_detail(str(user_name), refusal))
                for user_id, refusal in refusals.items()
                if refusal is not None
            ]
            rows = conn.execute(
                text(
                    f'SELECT t.id, t.token_hash, u.name, u.id {_VISIBLE.format(teams=teams)} AND u.id = :key '
                    'ORDER BY t.created_at, t.id'
                ),
                {**params, 'key': owner},
            ).all()
            if not rows:
                raise DomainError(404, 'not_found', f'{user_name} has no tokens to revoke', field='user')
        if kept_digest is not None and any(row[1] == kept_digest for row in rows):
            raise DomainError(409, 'local_token', f'Not revoked: {LOCAL_TOKEN_DETAIL}.')
        ids = [row[0] for row in rows]
        for token in ids:
            conn.execute(text('DELETE FROM apitoken WHERE id = :id'), {'id': token})
        for token, _, owner_name, owner_id in rows:
            shared = conn.execute(
                text(f'SELECT min(team_id) FROM teammember WHERE user_id = :u AND team_id IN ({teams})'),
                {**params, 'u': owner_id},
            ).scalar_one()
            audit.record(conn, principal, 'token.revoked', team_id=shared, target=token, details={'of': owner_name})
    return Revocation(ids, [row[1] for row in rows], owner, left_alone)
