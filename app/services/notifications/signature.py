"""Pure: how a webhook body is signed, Stripe's way. The header is

    X-Runboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>

The timestamp is inside the signed text, so a receiver that rejects a `t` older than a few minutes rejects a
captured request replayed later, and cannot be fooled by a changed `t`. `t` is the attempt's time (each retry
signs anew); the body is the same bytes on every attempt.

After a secret is rotated the header carries two v1 values for ROTATION_GRACE, the new secret's first, then the
previous one's (Stripe does the same), so a receiver verifies whichever of the two it holds."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

SECRET_PREFIX = 'whsec_'
TOLERANCE_SECONDS = 300  # a receiver's replay window: five minutes
ROTATION_GRACE = timedelta(hours=24)  # how long the replaced secret still signs after a rotation


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>` under the whole secret string (prefix included)."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b'.' + body, hashlib.sha256).hexdigest()


def signing_secrets(current: str, previous: str | None, previous_until: datetime | None, *, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now, the current one first: the previous one too until its time ends.
    (Works on the stored, encrypted forms as on the plain ones.)"""
    if previous is not None and previous_until is not None and now < previous_until:
        return [current, previous]
    return [current]


def signature_header(secrets_in_use: Sequence[str], timestamp: int, body: bytes) -> str:
    """`t=<timestamp>` and one `v1=` per secret, in their order."""
    return ','.join([f't={timestamp}', *(f'v1={sign(secret, timestamp, body)}' for secret in secrets_in_use)])


def parse_header(header: str) -> tuple[int | None, list[str]]:
    """(t, every v1 signature) of a header; (None, []) for one that is not of this shape."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(','):
        key, _, value = part.strip().partition('=')
        if key == 't' and value.isdigit():
            timestamp = int(value)
        elif key == 'v1' and value:
            signatures.append(value)
    return timestamp, signatures


def verify(secret: str, header: str, body: bytes, *, now: float, tolerance: float = TOLERANCE_SECONDS) -> bool:
    """What a receiver does: some v1 signature matches (in constant time) and `t` is within `tolerance` of now."""
    timestamp, signatures = parse_header(header)
    if timestamp is None or abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in signatures)
