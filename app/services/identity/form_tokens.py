"""CSRF tokens for the plain-HTML form posts (Reset without JavaScript).

A token is tied to the session's API token (the UI's credential): `<token id>.<expiry>.<hmac>`,
signed with that token's stored hash, for one project and one action. Any server instance sharing
the database can check it; deleting the API token revokes every form token minted from it.
A browser on another origin cannot read it from our page, and the Origin/Referer check refuses
a cross-site post outright.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.core.origins import redirect_target, same_origin  # noqa: F401 - the form checks use them
from app.models import ApiToken
from app.services.identity.accounts import Principal, TokenAuthenticator, hash_token

TTL_SECONDS = 12 * 60 * 60


def _signature(secret: str, token_id: str, project_id: str, action: str, expires: int) -> str:
    message = f'{token_id}|{project_id}|{action}|{expires}'.encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def mint(engine: Engine, bearer_token: str, project_id: str, action: str, *, now: float | None = None) -> str | None:
    digest = hash_token(bearer_token)
    with Session(engine) as session:
        token = session.exec(select(ApiToken).where(col(ApiToken.token_hash) == digest)).first()
    if token is None:
        return None
    expires = int((now or time.time()) + TTL_SECONDS)
    return f'{token.id}.{expires}.{_signature(token.token_hash, token.id, project_id, action, expires)}'


def verify(
    engine: Engine, form_token: str, project_id: str, action: str, *, now: float | None = None
) -> Principal | None:
    """The principal the form token speaks for, or None (forged, expired, other project/action, revoked)."""
    parts = (form_token or '').split('.')
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    token_id, expires, signature = parts[0], int(parts[1]), parts[2]
    if expires < (now or time.time()):
        return None
    with Session(engine) as session:
        token = session.get(ApiToken, token_id)
    if token is None:
        return None
    if not hmac.compare_digest(
        signature.encode(), _signature(token.token_hash, token.id, project_id, action, expires).encode()
    ):
        return None
    return TokenAuthenticator(engine, ttl_seconds=0)._load(token.token_hash)
