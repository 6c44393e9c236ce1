"""Idempotency keys on the admission path: reading a stored key (a replay, a mismatch, a request still in
flight) and turning its row into the run it names. The verdict itself is admission.idempotency_verdict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from app.core.errors import DomainError
from app.infra.rawdb import RawDB
from app.models import RunPublic, as_utc, utcnow
from app.services.runs import admission
from app.services.runs import sql as run_sql

KeyRow = Sequence[Any] | None  # run_sql.SQL_KEY_AND_RUN: fingerprint, run_id, expires_at, user name, run fields


def key_verdict(db: RawDB, row: KeyRow, fingerprint: str) -> Literal['replay', 'new']:
    """'replay' (the key names a run made from the same body) or 'new'; raises for a mismatch or a key in flight."""
    verdict = admission.idempotency_verdict(
        stored_fingerprint=row[0] if row else None,
        stored_run_id=row[1] if row else None,
        expires_at=as_utc(db.read_ts(row[2])) if row else None,
        fingerprint_now=fingerprint,
        now=utcnow(),
    )
    if verdict == 'mismatch':
        raise DomainError(
            422, 'idempotency_key_mismatch', 'This Idempotency-Key was already used with a different request body.'
        )
    if verdict == 'in_flight':
        raise DomainError(
            409,
            'idempotency_in_flight',
            'A request with this Idempotency-Key is still being processed; retry shortly.',
            headers={'Retry-After': '1'},
        )
    return 'replay' if verdict == 'replay' else 'new'


def run_from_key_row(row: Sequence[Any]) -> RunPublic:
    return RunPublic.model_validate({'user_name': row[3], **dict(zip(run_sql.RUN_FIELDS, row[4:], strict=True))})


def bad_data() -> DomainError:
    return DomainError(
        422, 'validation', 'The request contains a value the database cannot store (such as a NUL character).'
    )
