"""The webhook signature (Stripe style: the timestamp is signed), as a receiver checks it: a table of headers
and bodies, each accepted or refused, and one fixed vector that pins the format for receivers in any language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services.notifications.signature import (
    new_secret,
    parse_header,
    sign,
    signature_header,
    signing_secrets,
    verify,
)

SECRET = 'whsec_test'
BODY = b'{"id":"evt_1"}'
T = 1_700_000_000
GOOD = sign(SECRET, T, BODY)


def test_the_signature_is_hex_hmac_sha256_of_timestamp_dot_body() -> None:
    # the same value as: hmac.new(b'whsec_test', b'1700000000.{"id":"evt_1"}', sha256).hexdigest()
    assert GOOD == 'c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925'
    assert signature_header([SECRET], T, BODY) == f't={T},v1={GOOD}'


@pytest.mark.parametrize(
    ('header', 'body', 'now', 'secret', 'accepted'),
    [
        # fresh, as sent
        (f't={T},v1={GOOD}', BODY, T, SECRET, True),
        # within the five minutes a receiver allows, either way (clock skew)
        (f't={T},v1={GOOD}', BODY, T + 299, SECRET, True),
        (f't={T},v1={GOOD}', BODY, T - 299, SECRET, True),
        # a replay older than five minutes
        (f't={T},v1={GOOD}', BODY, T + 301, SECRET, False),
        # the body changed on the way
        (f't={T},v1={GOOD}', b'{"id":"evt_2"}', T, SECRET, False),
        # a changed timestamp (to get past the replay check) breaks the signature
        (f't={T + 600},v1={GOOD}', BODY, T + 600, SECRET, False),
        # signed with another secret
        (f't={T},v1={GOOD}', BODY, T, 'whsec_other', False),
        # several v1 values (e.g. during a secret change): one match is enough
        (f't={T},v1={"0" * 64},v1={GOOD}', BODY, T, SECRET, True),
        # spaces after commas are tolerated
        (f't={T}, v1={GOOD}', BODY, T, SECRET, True),
        # malformed headers
        ('', BODY, T, SECRET, False),
        (f'v1={GOOD}', BODY, T, SECRET, False),
        (f't=abc,v1={GOOD}', BODY, T, SECRET, False),
        (f't={T}', BODY, T, SECRET, False),
        (f't={T},v0={GOOD}', BODY, T, SECRET, False),
    ],
)
def test_verify(header: str, body: bytes, now: float, secret: str, accepted: bool) -> None:
    assert verify(secret, header, body, now=now) is accepted


def test_parse_header() -> None:
    assert parse_header(f't={T},v1=aa,v1=bb') == (T, ['aa', 'bb'])
    assert parse_header('garbage') == (None, [])


def test_secrets_are_long_random_and_recognisable() -> None:
    first, second = new_secret(), new_secret()
    assert first != second
    assert first.startswith('whsec_') and len(first) >= 6 + 43


def test_after_a_rotation_the_header_carries_the_new_signature_first_and_each_secret_verifies() -> None:
    header = signature_header(['whsec_new', SECRET], T, BODY)
    assert header == f't={T},v1={sign("whsec_new", T, BODY)},v1={GOOD}'
    assert verify('whsec_new', header, BODY, now=T) and verify(SECRET, header, BODY, now=T)
    assert not verify('whsec_other', header, BODY, now=T)


NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ('previous', 'previous_until', 'signs_with'),
    [
        (None, None, ['new']),  # never rotated
        ('old', NOW + timedelta(hours=23), ['new', 'old']),  # within the grace: both, the new one first
        ('old', NOW + timedelta(seconds=1), ['new', 'old']),
        ('old', NOW, ['new']),  # the grace is over
        ('old', NOW - timedelta(hours=1), ['new']),
        ('old', None, ['new']),  # no end recorded: never signs
    ],
)
def test_signing_secrets(previous: str | None, previous_until: datetime | None, signs_with: list[str]) -> None:
    assert signing_secrets('new', previous, previous_until, now=NOW) == signs_with
