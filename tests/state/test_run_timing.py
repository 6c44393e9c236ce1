"""How delayed, expiring, expired and skipped runs and schedules read, and the Run form's "Run later" body
(app/state/run_timing.py, app/state/schedules_view.py): pure table tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.state.run_timing import (
    LaterChoice,
    ended_unstarted_reason,
    later_fields,
    resources_text,
    started_by,
    timing_line,
    until_text,
    with_usage,
)
from app.state.schedules_view import card_line, changes, firing_view, form_body, next_line, parameters_text

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ('ahead', 'text'),
    [
        (timedelta(seconds=-5), 'due now'),
        (timedelta(seconds=0), 'due now'),
        (timedelta(seconds=12), 'in 12 s'),
        (timedelta(minutes=4, seconds=30), 'in 4 min'),
        (timedelta(hours=2, minutes=5), 'in 2 h'),
        (timedelta(days=3), 'in 3 d'),
    ],
)
def test_until_text(ahead, text) -> None:  # noqa: ANN001
    assert until_text(NOW + ahead, NOW) == text


@pytest.mark.parametrize(
    ('run', 'prefix', 'title'),
    [
        ({'status': 'delayed', 'run_at': '2026-11-23T12:30:00+00:00'}, 'runs ', 'Delayed: runs at 2026-11-23 12:30:00'),
        ({'status': 'queued', 'expires_at': '2026-11-23T12:10:00Z'}, 'expires ', 'Expires at 2026-11-23 12:10:00'),
        ({'status': 'queued', 'expires_at': None}, None, None),  # no TTL: nothing to say
        ({'status': 'running', 'expires_at': '2026-11-23T12:10:00Z'}, None, None),  # started: the TTL is over
        ({'status': 'succeeded', 'run_at': '2026-11-23T12:30:00Z'}, None, None),
    ],
)
def test_timing_line(run, prefix, title) -> None:  # noqa: ANN001
    line = timing_line(run)
    if prefix is None:
        assert line is None
    else:
        assert line is not None and line.prefix == prefix and line.title.startswith(title)


@pytest.mark.parametrize(
    ('run', 'reason'),
    [
        ({'status': 'expired', 'error': 'Queued TTL of 2 s passed'}, 'Queued TTL of 2 s passed'),
        ({'status': 'skipped', 'error': 'pr_lock: branch main is held'}, 'pr_lock: branch main is held'),
        ({'status': 'skipped', 'error': None}, 'skipped'),
        ({'status': 'failed', 'error': 'exit 1'}, None),  # it started: its error is not "why it never started"
        (  # cancelled before its time: it is listed at that time, so the row says when that was
            {'status': 'stopped', 'error': 'cancelled by ann', 'run_at': '2026-12-01T09:30:00+00:00'},
            'cancelled by ann (it was to run at 2026-12-01 09:30:00 UTC)',
        ),
        ({'status': 'stopped', 'error': 'stopped by bob', 'run_at': None}, 'stopped by bob'),  # stopped while queued
        ({'status': 'stopped', 'error': None}, 'stopped before it started'),
        ({'status': 'stopped', 'error': 'stopped by bob', 'started_at': '2026-12-01T09:30:00Z'}, None),  # it ran
    ],
)
def test_why_a_run_never_started(run, reason) -> None:  # noqa: ANN001
    assert ended_unstarted_reason(run) == reason


@pytest.mark.parametrize(
    ('run', 'by'),
    [
        ({'kind': 'manual', 'user_name': 'Alice'}, 'Alice'),
        ({'kind': 'auto', 'user_name': 'Bob'}, 'Bob'),  # an AFK run started by hand is the person's
        ({'kind': 'auto', 'user_name': None}, 'the auto-loop'),  # launched by the loop itself: nobody's
        ({'kind': 'manual'}, '—'),
        # admitted as the person who set the rules or the schedule, who neither pushed nor pressed Run
        ({'kind': 'push', 'user_name': 'Ann', 'pusher': 'dev'}, 'Ann (push rules)'),
        ({'kind': 'pull_request', 'user_name': 'Ann'}, 'Ann (push rules)'),
        ({'kind': 'scheduled', 'user_name': 'Ann'}, 'Ann (schedule)'),
        ({'kind': 'retry', 'user_name': 'Ann'}, 'Ann'),
    ],
)
def test_who_a_run_is_by(run, by) -> None:  # noqa: ANN001
    assert started_by(run) == by
    # a runs list row: the name alone (its kind says push or scheduled)
    assert started_by(run, through=False) == by.removesuffix(' (push rules)').removesuffix(' (schedule)')


@pytest.mark.parametrize(
    ('choice', 'fields'),
    [
        (LaterChoice(), {}),
        (LaterChoice(ttl=' 30m '), {'ttl': '30m'}),
        (LaterChoice(mode='in', after='10m'), {'run_in': '10m'}),
        (LaterChoice(mode='in', after='  '), 'Say in how long, e.g. 10m or 2h.'),
        # the browser's local time in its own zone (Berlin is UTC+1 in November)
        (LaterChoice(mode='at', at='2026-11-23T14:30', zone='Europe/Berlin'), {'run_at': '2026-11-23T14:30:00+01:00'}),
        (LaterChoice(mode='at', at='2026-11-23T14:30', zone=''), {'run_at': '2026-11-23T14:30:00+00:00'}),
        (LaterChoice(mode='at', at=''), 'Pick the date and time to run at.'),
        (LaterChoice(mode='at', at='half past two'), 'half past two is not a date and time.'),
        (
            LaterChoice(mode='at', at='2026-11-23T14:30', zone='Mars/Olympus'),
            '2026-11-23T14:30 is not a date and time.',
        ),
    ],
)
def test_run_later_fields(choice, fields) -> None:  # noqa: ANN001
    assert later_fields(choice) == fields


SCHEDULE = {
    'id': 'sch_1',
    'name': 'nightly',
    'cron': '30 2 * * *',
    'timezone': 'Europe/Berlin',
    'branch': 'main',
    'depth_level': 'shallow',
    'target_framework': 'python',
    'catch_up': 'once',
    'paused': False,
    'user_id': 'usr_1',
    'user_name': 'ann',
    'next_fire_at': '2026-11-24T01:30:00Z',
}


def test_schedule_texts() -> None:
    assert parameters_text(SCHEDULE) == 'main · shallow/python · as ann'
    line = next_line(SCHEDULE)
    assert line.text(datetime(2026, 11, 24, 1, 26, tzinfo=UTC)) == 'next run in 4 min'
    assert next_line({**SCHEDULE, 'paused': True, 'next_fire_at': None}).text(NOW) == 'paused'
    card = card_line({'next_schedule': {'schedule_id': 'sch_1', 'name': 'nightly', 'at': '2026-11-23T12:04:00Z'}})
    assert card is not None and card.text(NOW) == 'next run in 4 min · nightly'
    assert card_line({'next_schedule': None}) is None


@pytest.mark.parametrize(
    ('firing', 'label', 'tone', 'text'),
    [
        ({'state': 'admitted', 'run_id': 'run_1', 'run_status': 'succeeded'}, 'ran', 'positive', ''),
        ({'state': 'admitted', 'run_id': 'run_1', 'late': True}, 'ran (late: catch-up)', 'positive', ''),
        (
            {'state': 'skipped', 'reason': 'pr_lock', 'detail': 'Another run holds main.'},
            'skipped',
            'warning',
            'pr_lock: Another run holds main.',
        ),
        ({'state': 'missed', 'detail': 'Missed 10:01 to 10:04 UTC'}, 'missed', 'muted', 'Missed 10:01 to 10:04 UTC'),
        ({'state': 'pending'}, 'firing…', 'info', 'being admitted'),
    ],
)
def test_firing_view(firing, label, tone, text) -> None:  # noqa: ANN001
    view = firing_view(firing)
    assert (view.label, view.tone, view.text) == (label, tone, text)


def test_the_form_sends_what_was_filled_in_and_an_edit_only_what_changed() -> None:
    body = form_body({'name': ' nightly ', 'cron': '30 2 * * *', 'timezone': '', 'branch': 'main', 'catch_up': 'skip'})
    assert body == {'name': 'nightly', 'cron': '30 2 * * *', 'branch': 'main', 'catch_up': 'skip'}
    assert changes(SCHEDULE, {**body, 'name': 'nightly'}) == {'catch_up': 'skip'}


ENDED = {'status': 'succeeded'}


@pytest.mark.parametrize(
    ('run', 'shown'),
    [
        ({**ENDED, 'peak_memory_bytes': 327_567_360, 'cpu_seconds': 4.213}, 'peak memory 312.4 MiB · CPU 4.21 s'),
        ({**ENDED, 'peak_memory_bytes': 3 * 1024**3, 'cpu_seconds': 125.0}, 'peak memory 3.0 GiB · CPU 2 min 5 s'),
        (  # the limit it ran under
            {**ENDED, 'peak_memory_bytes': 64 * 1024**2, 'cpu_seconds': 0.5, 'memory_max_bytes': 64 * 1024**2},
            'peak memory 64.0 MiB of 64.0 MiB · CPU 0.50 s',
        ),
        ({**ENDED, 'peak_memory_bytes': 524_288, 'cpu_seconds': 0.0}, 'peak memory 512.0 KiB · CPU 0.00 s'),
        ({**ENDED, 'peak_memory_bytes': None, 'cpu_seconds': 1.5}, 'CPU 1.50 s'),  # no memory hierarchy there
        (  # running: what it used so far, from its last heartbeat
            {'status': 'running', 'peak_memory_bytes': 40 * 1024**2, 'cpu_seconds': 3.0, 'memory_max_bytes': 1024**3},
            'peak memory 40.0 MiB of 1.0 GiB · CPU 3.00 s so far',
        ),
        ({'status': 'stopping', 'peak_memory_bytes': None, 'cpu_seconds': 0.25}, 'CPU 0.25 s so far'),
        ({'status': 'running', 'peak_memory_bytes': None, 'cpu_seconds': None}, None),  # before its first heartbeat
        ({**ENDED, 'peak_memory_bytes': None, 'cpu_seconds': None}, None),  # no cgroups where it ran
        ({}, None),  # an older server's answer
    ],
)
def test_what_a_run_used(run: dict, shown: str | None) -> None:
    assert resources_text(run) == shown


USED = {'type': 'run.usage', 'id': 'r1', 'peak_memory_bytes': 50, 'cpu_seconds': 1.5, 'memory_max_bytes': 100}


@pytest.mark.parametrize(
    ('run', 'event', 'after'),
    [
        (
            {'id': 'r1', 'status': 'running', 'peak_memory_bytes': None},
            USED,
            {'id': 'r1', 'status': 'running', 'peak_memory_bytes': 50, 'cpu_seconds': 1.5, 'memory_max_bytes': 100},
        ),
        ({'id': 'r1', 'status': 'succeeded', 'peak_memory_bytes': 70}, USED, None),  # its end's figures are final
        ({'id': 'r2', 'status': 'running'}, USED, None),  # another run's
        ({'id': 'r1', 'status': 'running'}, {**USED, 'type': 'run.output'}, None),
        # not what a heartbeat says (a forged or broken message): nothing is shown as measured
        ({'id': 'r1', 'status': 'running'}, {**USED, 'peak_memory_bytes': 'lots'}, None),
        ({'id': 'r1', 'status': 'running'}, {**USED, 'cpu_seconds': -5}, None),
        ({'id': 'r1', 'status': 'running'}, {**USED, 'memory_max_bytes': True}, None),
        ({'id': 'r1', 'status': 'running'}, {**USED, 'cpu_seconds': float('nan')}, None),
        (  # a machine that does not count memory
            {'id': 'r1', 'status': 'running'},
            {**USED, 'peak_memory_bytes': None, 'memory_max_bytes': None},
            {'id': 'r1', 'status': 'running', 'peak_memory_bytes': None, 'cpu_seconds': 1.5, 'memory_max_bytes': None},
        ),
    ],
)
def test_a_run_page_takes_what_the_run_used_so_far_from_its_event(run: dict, event: dict, after: dict | None) -> None:
    assert with_usage(run, event) == after
