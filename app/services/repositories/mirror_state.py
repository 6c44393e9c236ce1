"""What is known about one mirror's fetches, kept in `<mirror>.json` beside it so every server process and
the UI ("fetched 12 s ago", the last error) read the same record; and the pure rule that decides whether a
caller may use the mirror as it is, takes the result of a fetch that ran while it waited, or fetches."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Literal

from app.services.repositories.credentials import Credentials

Decision = Literal['fresh', 'joined', 'fetch']
NO_AUTH = 'none'
_ROUNDS = 20_000  # a fingerprint of a weak password must not be cheap to brute-force from the JSON file


@dataclass(frozen=True)
class MirrorState:
    path: Path
    fetched_at: float | None  # unix seconds of the last successful clone or fetch
    error: str | None  # the last attempt's error (redacted); None when it succeeded
    fetch_seconds: float | None = None  # how long the last attempt took


@dataclass(frozen=True)
class MirrorRecord:
    last_fetch_at: float | None = None
    last_error: str | None = None
    fetch_seconds: float | None = None
    last_attempt_at: float | None = None  # when the last attempt ended, successful or not
    fetch_auth: str = NO_AUTH  # fingerprint of the credentials of the last successful fetch
    attempt_auth: str = NO_AUTH  # fingerprint of the credentials of the last attempt


def record_path(mirror: Path) -> Path:
    return mirror.with_name(mirror.name + '.json')


def read_record(mirror: Path) -> MirrorRecord | None:
    try:
        data = json.loads(record_path(mirror).read_text())
    except (FileNotFoundError, ValueError):
        return None
    known = {f.name for f in fields(MirrorRecord)}
    return MirrorRecord(**{k: v for k, v in data.items() if k in known})


def write_record(mirror: Path, record: MirrorRecord) -> None:
    target = record_path(mirror)
    tmp = target.with_name(f'.{target.name}.{os.getpid()}.{secrets.token_hex(4)}')
    tmp.write_text(json.dumps(asdict(record), indent=1, sort_keys=True))
    os.replace(tmp, target)


def state_of(mirror: Path, record: MirrorRecord | None) -> MirrorState:
    if record is None:
        return MirrorState(mirror, None, None, None)
    return MirrorState(mirror, record.last_fetch_at, record.last_error, record.fetch_seconds)


def fingerprint(credentials: Credentials | None, salt: str | None = None) -> str:
    """Salted, slow hash of the credentials: it tells whether a later caller holds the same ones without
    the record revealing them."""
    if credentials is None:
        return NO_AUTH
    salt = salt or secrets.token_hex(8)
    material = f'{credentials.kind}\0{credentials.username}\0{credentials.secret}'.encode()
    return f'{salt}${hashlib.pbkdf2_hmac("sha256", material, salt.encode(), _ROUNDS).hex()[:32]}'


def same_credentials(tag: str, credentials: Credentials | None) -> bool:
    if tag == NO_AUTH or credentials is None:
        return tag == NO_AUTH and credentials is None
    salt = tag.split('$', 1)[0]
    return hmac.compare_digest(tag, fingerprint(credentials, salt))


def decide(
    record: MirrorRecord | None,
    *,
    mirror_exists: bool,
    asked_at: float,
    now: float,
    max_age: float,
    attempted_by_same: bool,
    fetched_by_same: bool,
) -> Decision:
    """'joined': an attempt with the same credentials ended after this caller asked (it waited for that
    fetch: its result, success or error, is this caller's). 'fresh': the last successful fetch, made with
    the same credentials, is younger than max_age. Otherwise 'fetch'. Other credentials never reuse a fetch:
    a caller whose token cannot read the repository must not read it through someone else's mirror."""
    if record is None:
        return 'fetch'
    ended = record.last_attempt_at
    if ended is not None and ended >= asked_at and attempted_by_same and (mirror_exists or record.last_error):
        return 'joined'
    fetched = record.last_fetch_at
    if mirror_exists and fetched is not None and fetched_by_same and now - fetched < max_age:
        return 'fresh'
    return 'fetch'
