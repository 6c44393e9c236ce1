from __future__ import annotations

from pathlib import Path

import pytest

from app.services.repositories.credentials import Credentials
from app.services.repositories.mirror_state import (
    NO_AUTH,
    Decision,
    MirrorRecord,
    MirrorState,
    decide,
    fingerprint,
    read_record,
    record_path,
    same_credentials,
    state_of,
    write_record,
)

NOW = 1_000_000.0
ASKED = NOW - 5  # the caller asked 5 s ago and has waited for the locks since
OK = MirrorRecord(last_fetch_at=NOW - 60, last_attempt_at=NOW - 60)
FAILED = MirrorRecord(last_fetch_at=NOW - 7200, last_error='boom', last_attempt_at=NOW - 60)
JUST_OK = MirrorRecord(last_fetch_at=NOW - 1, last_attempt_at=NOW - 1)
JUST_FAILED = MirrorRecord(last_fetch_at=None, last_error='boom', last_attempt_at=NOW - 1)


@pytest.mark.parametrize(
    ('record', 'exists', 'max_age', 'attempted_same', 'fetched_same', 'expected'),
    [
        (None, False, 0, False, False, 'fetch'),
        (None, False, 3600, False, False, 'fetch'),
        (OK, True, 0, True, True, 'fetch'),  # max_age 0: always fetch
        (OK, True, 3600, True, True, 'fresh'),
        (OK, True, 60, True, True, 'fetch'),  # exactly max_age old: due
        (OK, True, 61, True, True, 'fresh'),
        (OK, False, 3600, True, True, 'fetch'),  # the mirror directory is gone
        (OK, True, 3600, True, False, 'fetch'),  # fetched with other credentials
        (FAILED, True, 3600, True, True, 'fetch'),  # the last success is too old; an error does not make it fresh
        (FAILED, True, 3600 * 24, True, True, 'fresh'),  # a recent enough success is still usable
        (JUST_OK, True, 0, True, True, 'joined'),  # a fetch ended while this caller waited
        (JUST_OK, True, 0, False, False, 'fetch'),  # ... but with other credentials
        (JUST_OK, False, 0, True, True, 'fetch'),  # ... and the mirror has gone since
        (JUST_FAILED, False, 0, True, True, 'joined'),  # the clone this caller waited for failed: same error
        (JUST_FAILED, False, 0, False, False, 'fetch'),
    ],
)
def test_decide(
    record: MirrorRecord | None,
    exists: bool,
    max_age: float,
    attempted_same: bool,
    fetched_same: bool,
    expected: Decision,
) -> None:
    got = decide(
        record,
        mirror_exists=exists,
        asked_at=ASKED,
        now=NOW,
        max_age=max_age,
        attempted_by_same=attempted_same,
        fetched_by_same=fetched_same,
    )
    assert got == expected


TOKEN = Credentials('token', 'alice', 'tok_abcdef')


@pytest.mark.parametrize(
    ('stored', 'caller', 'same'),
    [
        (None, None, True),
        (None, TOKEN, False),
        (TOKEN, None, False),
        (TOKEN, TOKEN, True),
        (TOKEN, Credentials('token', 'alice', 'tok_other'), False),
        (TOKEN, Credentials('token', 'bob', 'tok_abcdef'), False),
        (TOKEN, Credentials('ssh_key', 'alice', 'tok_abcdef'), False),
    ],
)
def test_same_credentials(stored: Credentials | None, caller: Credentials | None, same: bool) -> None:
    assert same_credentials(fingerprint(stored), caller) is same


def test_fingerprint_is_salted_and_hides_the_secret() -> None:
    a, b = fingerprint(TOKEN), fingerprint(TOKEN)
    assert a != b and 'tok_abcdef' not in a and fingerprint(None) == NO_AUTH


def test_record_round_trip_and_state(tmp_path: Path) -> None:
    mirror = tmp_path / 'abc.git'
    assert read_record(mirror) is None
    assert state_of(mirror, None) == MirrorState(mirror, None, None, None)
    record = MirrorRecord(last_fetch_at=1.5, last_error='e', fetch_seconds=0.25, last_attempt_at=2.0)
    write_record(mirror, record)
    assert read_record(mirror) == record and record_path(mirror).name == 'abc.git.json'
    assert state_of(mirror, record) == MirrorState(mirror, 1.5, 'e', 0.25)
    assert [p.name for p in tmp_path.iterdir()] == ['abc.git.json']


def test_unreadable_record_counts_as_none(tmp_path: Path) -> None:
    record_path(tmp_path / 'm.git').write_text('{not json')
    assert read_record(tmp_path / 'm.git') is None
