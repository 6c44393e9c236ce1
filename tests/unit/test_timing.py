"""Delays and queued TTLs on the trigger path (services/runs/timing.py): pure table tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.errors import DomainError
from app.services.runs.admission import Refusal
from app.services.runs.timing import (
    Timing,
    duration_text,
    expiry,
    parse_duration,
    past_refusal,
    resolve_timing,
    waited_text,
    window_start,
)
from app.services.scheduling.timers import due_now, wake_in

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ('text', 'seconds'),
    [
        ('90s', 90),
        ('10m', 600),
        ('2h', 7200),
        ('1d', 86400),
        ('1h30m', 5400),
        ('1H 30M', 5400),  # case and spaces do not matter
        ('45', 45),  # a bare number is seconds
        (45, 45),
        ('0', None),  # nothing to wait for is not a duration
        ('0m', None),
        ('', None),
        ('10 minutes', None),
        ('1.5h', None),
        ('-5m', None),
        ('m10', None),
        ('10m5', None),  # a trailing number without its unit
        (0, None),
        (-3, None),
        (True, None),  # JSON true is not 1 second
    ],
)
def test_parse_duration(text, seconds) -> None:  # noqa: ANN001
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ('seconds', 'text'),
    [
        (0, '0 s'),
        (2.4, '2 s'),
        (59, '59 s'),
        (60, '1 min'),
        (185, '3 min 5 s'),
        (7800, '2 h 10 min'),
        (93600, '1 d 2 h'),
    ],
)
def test_duration_text(seconds, text) -> None:  # noqa: ANN001
    assert duration_text(seconds) == text


@pytest.mark.parametrize(
    ('fields', 'run_at', 'ttl'),
    [
        # nothing asked: now, no TTL
        ({}, None, None),
        # run_in counts from now
        ({'run_in': '10m'}, NOW + timedelta(minutes=10), None),
        # run_at with an offset is that moment; without one it is UTC
        ({'run_at': '2026-11-23T14:30:00+01:00'}, datetime(2026, 11, 23, 13, 30, tzinfo=UTC), None),
        ({'run_at': '2026-11-23T14:30:00.5+05:30'}, datetime(2026, 11, 23, 9, 0, 0, 500000, tzinfo=UTC), None),
        ({'run_at': '2026-11-23T14:30:00'}, datetime(2026, 11, 23, 14, 30, tzinfo=UTC), None),
        ({'run_at': '2026-11-23T14:30:00Z'}, datetime(2026, 11, 23, 14, 30, tzinfo=UTC), None),
        # a past run_at is not refused here: a resend of the same request must still replay (past_refusal)
        ({'run_at': '2026-11-23T11:00:00Z'}, datetime(2026, 11, 23, 11, 0, tzinfo=UTC), None),
        # a TTL, as seconds or a duration, with or without a delay
        ({'ttl': 120}, None, 120),
        ({'ttl': '2m', 'run_in': '1h'}, NOW + timedelta(hours=1), 120),
    ],
)
def test_resolve_timing(fields, run_at, ttl) -> None:  # noqa: ANN001
    timing = resolve_timing(run_at=fields.get('run_at'), run_in=fields.get('run_in'), ttl=fields.get('ttl'), now=NOW)
    assert timing == Timing(run_at, ttl)


@pytest.mark.parametrize(
    ('fields', 'field'),
    [
        ({'run_at': '2026-11-23T14:30:00Z', 'run_in': '10m'}, 'run_at'),  # both: which one did they mean?
        ({'run_in': 'soon'}, 'run_in'),
        ({'run_in': '0s'}, 'run_in'),
        ({'run_at': 'tomorrow'}, 'run_at'),
        ({'run_in': '31d'}, 'run_in'),  # at most 30 days ahead
        ({'run_in': '9999999d'}, 'run_in'),  # (not an overflow)
        ({'run_in': '1' * 30}, 'run_in'),
        ({'run_at': '0001-01-01T00:00:00+23:59'}, 'run_at'),  # before the calendar starts, in UTC
        ({'run_at': '2027-01-01T00:00:00Z'}, 'run_at'),
        ({'ttl': 'forever'}, 'ttl'),
        ({'ttl': 0}, 'ttl'),
        ({'ttl': '31d'}, 'ttl'),
    ],
)
def test_resolve_timing_refuses_naming_the_field(fields, field) -> None:  # noqa: ANN001
    refusal = resolve_timing(run_at=fields.get('run_at'), run_in=fields.get('run_in'), ttl=fields.get('ttl'), now=NOW)
    assert isinstance(refusal, Refusal)
    assert (refusal.status, refusal.error, refusal.field) == (422, 'validation', field)
    assert field in refusal.detail


@pytest.mark.parametrize(
    ('run_at', 'refused'),
    [(None, False), (NOW + timedelta(seconds=1), False), (NOW, True), (NOW - timedelta(hours=1), True)],
)
def test_past_run_at_is_refused_for_a_new_request(run_at, refused) -> None:  # noqa: ANN001
    refusal = past_refusal(Timing(run_at), NOW)
    assert (refusal is not None) == refused
    if refusal:
        assert refusal.field == 'run_at' and 'past' in refusal.detail


def test_fingerprint_fields_keep_run_in_as_sent_and_normalise_run_at() -> None:
    # a resend of "run_in: 10m" a minute later is the same request; two spellings of one run_at are too
    later = resolve_timing(run_at=None, run_in='10m', ttl=None, now=NOW + timedelta(minutes=1))
    assert isinstance(later, Timing)
    assert later.payload(None, '10m', None) == {'run_in': '10m'}
    berlin = resolve_timing(run_at='2026-11-23T14:30:00+01:00', run_in=None, ttl='2m', now=NOW)
    utc = resolve_timing(run_at='2026-11-23T13:30:00Z', run_in=None, ttl=120, now=NOW)
    assert isinstance(berlin, Timing) and isinstance(utc, Timing)
    assert (
        berlin.payload('x', None, '2m')
        == utc.payload('y', None, 120)
        == {
            'run_at': '2026-11-23T13:30:00+00:00',
            'ttl': 120,
        }
    )
    assert Timing().payload(None, None, None) == {}  # a plain trigger's fingerprint is what it always was


@pytest.mark.parametrize(
    ('run_ttl', 'project_ttl', 'expires'),
    [
        (None, None, None),  # waits for ever
        (None, 600, NOW + timedelta(seconds=600)),  # the project's setting
        (30, 600, NOW + timedelta(seconds=30)),  # the trigger's ttl wins
        (30, None, NOW + timedelta(seconds=30)),
    ],
)
def test_expiry(run_ttl, project_ttl, expires) -> None:  # noqa: ANN001
    assert expiry(NOW, run_ttl=run_ttl, project_ttl=project_ttl) == expires


def test_waited_text_says_how_long_and_what_for() -> None:
    reason = 'waiting for a free run slot (1 of 1 running)'
    assert waited_text(NOW - timedelta(seconds=2), NOW, reason) == (
        'waited 2 s in the queue, waiting for a free run slot (1 of 1 running)'
    )
    assert waited_text(NOW - timedelta(minutes=3), NOW, None) == 'waited 3 min in the queue'


@pytest.mark.parametrize(
    ('due_in', 'wake'),
    [
        (0.2, 0.205),  # before the next tick (0.5 s): wake just after it is due
        (0.6, None),  # the tick comes first
        (0.0, None),  # due now or past (a run the sweep could not admit): the tick retries, no busy loop
        (-3.0, None),
    ],
)
def test_the_delayed_sweep_wakes_when_the_next_run_is_due(due_in, wake) -> None:  # noqa: ANN001
    assert wake_in(NOW + timedelta(seconds=due_in), NOW, 0.5) == (pytest.approx(wake) if wake else None)


@pytest.mark.parametrize(
    ('delayed_in', 'expiry_in', 'admit', 'expire'),
    [
        (None, None, False, False),  # nothing delayed, nothing with a TTL: the one read is all the tick does
        (5.0, 5.0, False, False),  # both later
        (0.0, None, True, False),  # a delayed run due this instant
        (-1.0, 3.0, True, False),
        (None, -0.1, False, True),  # a queued run past its TTL
        (-2.0, -2.0, True, True),
    ],
)
def test_the_delayed_sweep_reads_further_only_when_something_is_due(delayed_in, expiry_in, admit, expire) -> None:  # noqa: ANN001
    def at(seconds: float | None) -> datetime | None:
        return None if seconds is None else NOW + timedelta(seconds=seconds)

    assert due_now(at(delayed_in), at(expiry_in), NOW) == (admit, expire)


MORNING = datetime(2026, 5, 12, 8, 0, tzinfo=UTC)  # the morning after NIGHT
NIGHT = datetime(2026, 5, 11, 22, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ('since', 'start'),
    [
        (None, MORNING - timedelta(hours=24)),  # the default: the last 24 hours
        ('', MORNING - timedelta(hours=24)),
        ('  ', MORNING - timedelta(hours=24)),
        ('12h', MORNING - timedelta(hours=12)),
        ('90m', MORNING - timedelta(minutes=90)),
        ('1h30m', MORNING - timedelta(minutes=90)),
        ('2d', MORNING - timedelta(days=2)),
        ('31d', MORNING - timedelta(days=31)),
        ('2026-05-11T22:00:00Z', NIGHT),
        ('2026-05-11T22:00:00', NIGHT),  # no offset: UTC
        ('2026-05-12T00:00:00+02:00', NIGHT),
        ('2026-05-11', datetime(2026, 5, 11, tzinfo=UTC)),  # a day: from its start
    ],
)
def test_where_a_since_window_starts(since: str | None, start: datetime) -> None:
    assert window_start(since, MORNING) == start


@pytest.mark.parametrize(
    ('since', 'says'),
    [
        ('yesterday', 'neither a duration'),
        ('12 hours', 'neither a duration'),
        ('-5h', 'neither a duration'),
        ('2026-13-01', 'neither a duration'),
        ('2026-05-12T09:00:00Z', 'in the future'),
        ('32d', 'more than 31 days back'),
        ('2026-01-01', 'more than 31 days back'),
    ],
)
def test_a_since_that_names_no_window_is_a_422_on_its_field(since: str, says: str) -> None:
    with pytest.raises(DomainError) as refused:
        window_start(since, MORNING)
    assert (refused.value.status, refused.value.error, refused.value.extra) == (422, 'validation', {'field': 'since'})
    assert says in refused.value.detail
