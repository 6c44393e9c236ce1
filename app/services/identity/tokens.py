"""Listing and revoking API tokens (operators, within their teams). A revoked token is deleted, so it
fails on every instance that asks the database; instances that cached it drop it when the revocation
reaches them over the event bus (in-process, or Redis pub/sub in team mode), not after a TTL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, text

from app.core.errors import DomainError, forbidden
from app.infra.db import session_scope
from app.models import as_utc
from app.services.identity import audit
from app.services.identity.accounts import Principal
from app.services.identity.people import require_manageable

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
        raise forbidden('only operators can see and revoke tokens')


def _teams_sql(principal: Principal) -> tuple[str, dict]:
    names = {f't{i}': team for i, team in enumerate(sorted(principal.team_ids))}
    return ', '.join(f':{name}' for name in names) or "''", names


_VISIBLE = (
    'FROM apitoken t JOIN "user" u ON u.id = t.user_id WHERE EXISTS (SELECT 1 FROM teammember m '
    'WHERE m.user_id = u.id AND m.team_id IN ({teams}))'
)


def list_tokens(engine: Engine, principal: Principal) -> list[TokenInfo]:
    """Tokens of the people in the caller's teams (never the secret, which is not stored)."""
    _require_operator(principal)
    teams, params = _teams_sql(principal)
    with session_scope(engine) as session:
        rows = (
            session.connection()
            .execute(
                text(
                    'SELECT t.id, u.id, u.name, u.role, t.name, t.created_at, t.last_used_at '
                    + _VISIBLE.format(teams=teams)
                    + ' ORDER BY u.name, t.created_at'
                ),
                params,
            )
            .all()
        )
    return [  # SQLite hands back text
        TokenInfo(row[0], row[1], row[2], row[3], row[4], as_utc(row[5]), as_utc(row[6])) for row in rows
    ]


def revoke(
    engine: Engine, principal: Principal, *, token_id: str | None = None, user_name: str | None = None
) -> tuple[list[str], list[str]]:
    """Delete one token, or every token of a person, in the caller's teams. Returns (token ids, hashes). 403, and
    nothing revoked, when one of their owners is also in another team or is a deployment administrator (and the
    caller is not): `people.require_manageable`."""
    _require_operator(principal)
    teams, params = _teams_sql(principal)
    where, key = ('t.id = :key', token_id) if token_id else ('u.name = :key', user_name)
    with session_scope(engine) as session:
        conn = session.connection()
        rows = conn.execute(
            text(f'SELECT t.id, t.token_hash, u.name, u.id {_VISIBLE.format(teams=teams)} AND {where}'),
            {**params, 'key': key},
        ).all()
        if not rows:
            what = f'token {token_id!r}' if token_id else f'a token of {user_name!r}'
            raise DomainError(404, 'not_found', f'{what} not found in your teams')
        require_manageable(session, principal, [row[3] for row in rows])
        ids = [row[0] for row in rows]
        for token in ids:
            conn.execute(text('DELETE FROM apitoken WHERE id = :id'), {'id': token})
        for token, _, owner_name, owner_id in rows:
            shared = conn.execute(
                text(f'SELECT min(team_id) FROM teammember WHERE user_id = :u AND team_id IN ({teams})'),
                {**params, 'u': owner_id},
            ).scalar_one()
            audit.record(conn, principal, 'token.revoked', team_id=shared, target=token, details={'of': owner_name})
    return ids, [row[1] for row in rows]
