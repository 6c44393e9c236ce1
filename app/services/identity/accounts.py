"""Users, teams and API tokens. Tokens are random and stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from app.infra.db import insert_new, session_scope
from app.models import ApiToken, Role, Team, TeamMember, User, utcnow

log = logging.getLogger(__name__)
USE_PRECISION = timedelta(minutes=1)  # a token's last use is written at most this often (per token and instance)


@dataclass(frozen=True)
class Principal:
    user_id: str
    name: str
    role: str
    team_ids: frozenset[str]
    token_id: str | None = None  # the token this request came with (the audit log names it)
    is_admin: bool = False  # a deployment administrator (docs/security.md): drains workers every team shares

    @property
    def is_operator(self) -> bool:
        return self.role == Role.operator.value


def principal_of(session: Session, user_id: str) -> Principal | None:
    """A person as the admission sees a caller, read now (name, role, teams): for what Runboard starts on someone's
    behalf (a schedule's owner, the push rules' owner, an automatic retry's original). A person who left a team is
    refused like any caller: its projects are not found."""
    user = session.get(User, user_id)
    if user is None:
        return None
    teams = session.exec(select(TeamMember.team_id).where(col(TeamMember.user_id) == user_id)).all()
    return Principal(user.id, user.name, user.role, frozenset(teams), is_admin=user.is_admin)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_token(user_id: str, name: str = 'default') -> tuple[ApiToken, str]:
    """A fresh token row for a person (to add to a session) and its plain value, which is never stored."""
    token = 'rb_' + secrets.token_urlsafe(32)
    return ApiToken(id='tok_' + uuid.uuid4().hex[:16], user_id=user_id, token_hash=hash_token(token), name=name), token


def new_user(name: str, role: Role, *, is_admin: bool = False) -> User:
    return User(id='usr_' + uuid.uuid4().hex[:16], name=name, role=role.value, is_admin=is_admin)


def create_user(
    engine: Engine, *, name: str, role: Role, team_ids: list[str], is_admin: bool = False
) -> tuple[User, str]:
    """Create a user with one API token; returns the user and the plain token (shown once)."""
    user = new_user(name, role, is_admin=is_admin)
    row, token = new_api_token(user.id)
    with session_scope(engine) as session:
        session.add(user)
        session.flush()
        for team_id in team_ids:
            session.add(TeamMember(team_id=team_id, user_id=user.id))
        session.add(row)
    return user, token


def ensure_team(engine: Engine, team_id: str, name: str) -> None:
    """The team exists afterwards: the database decides between instances creating it at once."""
    with engine.begin() as conn:
        insert_new(conn, Team.__table__, [{'id': team_id, 'name': name}])  # type: ignore[attr-defined]


class TokenAuthenticator:
    """Token -> Principal, cached briefly so the hot trigger path does not hit the database each time. Each load
    (once a TTL per token while it is used) also records the token's last use, to the minute."""

    def __init__(self, engine: Engine, ttl_seconds: float = 10.0) -> None:
        self.engine, self.ttl = engine, ttl_seconds
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()
        self._use_written: dict[str, float] = {}  # token id -> when this instance last wrote its use (monotonic)
        self._forgotten = 0  # how many forget() calls so far: a load that saw one happen meanwhile is not kept

    def cached(self, token: str) -> Principal | None | bool:
        """The cached answer for this token without touching the database; False when not cached."""
        hit = self._cache.get(hash_token(token))
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        return False

    def authenticate(self, token: str) -> Principal | None:
        digest = hash_token(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
            forgotten = self._forgotten
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        principal = self._load(digest)
        with self._lock:
            if self._forgotten != forgotten:  # a revocation came while loading: what was read may be gone already
                return principal
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now, principal)
        return principal

    def forget(self, digests: list[str]) -> None:
        """Revoked tokens: drop what this instance remembers of them, so the next request asks the database. A load
        under way (it may have read the token before it was deleted) is then not kept either."""
        with self._lock:
            self._forgotten += 1
            for digest in digests:
                self._cache.pop(digest, None)

    def _load(self, digest: str) -> Principal | None:
        with Session(self.engine) as session:
            found = session.exec(
                select(User, col(ApiToken.id))
                .join(ApiToken, col(ApiToken.user_id) == col(User.id))
                .where(col(ApiToken.token_hash) == digest)
            ).first()
            if found is None:
                return None
            user, token_id = found
            teams = session.exec(select(TeamMember.team_id).where(col(TeamMember.user_id) == user.id)).all()
        self._note_use(token_id)
        return Principal(user.id, user.name, user.role, frozenset(teams), token_id, is_admin=user.is_admin)

    def _note_use(self, token_id: str) -> None:
        """Write the token's last use unless this instance did less than USE_PRECISION ago; the WHERE keeps
        several instances from writing it more often. Never fails the request that used it."""
        now = time.monotonic()
        if now - self._use_written.get(token_id, -1e9) < USE_PRECISION.total_seconds():
            return
        self._use_written[token_id] = now
        if len(self._use_written) > 10_000:
            self._use_written.clear()
        moment = utcnow()
        last_used = col(ApiToken.last_used_at)
        try:
            with session_scope(self.engine) as session:
                session.connection().execute(
                    update(ApiToken)
                    .where(col(ApiToken.id) == token_id)
                    .where(or_(last_used.is_(None), last_used < moment - USE_PRECISION))
                    .values(last_used_at=moment)
                )
        except Exception:  # noqa: BLE001 - the request goes on; the next load tries again
            log.warning('recording the use of token %s failed', token_id, exc_info=True)
            self._use_written.pop(token_id, None)


LOCAL_TEAM = 'local'


def anyone_exists(engine: Engine) -> bool:
    """Whether the database holds a person yet (a team server without the local account says how to make one)."""
    with Session(engine) as session:
        return session.exec(select(User.id).limit(1)).first() is not None


def ensure_local_account(engine: Engine, credentials_path: Path) -> str:
    """Local mode: one operator account, created on first start; its token saved for the CLI and UI. It is a
    deployment administrator (the person who started the server owns the machine)."""
    if credentials_path.exists():
        try:
            token = json.loads(credentials_path.read_text())['token']
            if TokenAuthenticator(engine).authenticate(token) is not None:
                return token
        except (ValueError, KeyError):
            pass
    ensure_team(engine, LOCAL_TEAM, 'Local')
    _, token = create_user(engine, name='local', role=Role.operator, team_ids=[LOCAL_TEAM], is_admin=True)
    credentials_path.parent.mkdir(parents=True, exist_ok=True)
    credentials_path.write_text(json.dumps({'token': token}))
    credentials_path.chmod(0o600)
    return token
