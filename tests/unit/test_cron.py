"""Schedule decisions (services/scheduling/cron.py): reading cron in a time zone, when a slot is due, what is missed and
what the catch-up policy fires. Pure table tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services.runs.admission import Refusal
from app.services.scheduling.cron import (
    SlotPlan,
    compile_cron,
    due_unfired,
    plan_slots,
    slot_after,
    slot_key,
    standard_cron,
    upcoming,
    weekdays,
)
from app.services.scheduling.sweep import changed_while_due_text

GRACE = timedelta(seconds=10)


def at(hour: int, minute: int, second: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def trigger(expression: str = '* * * * *', zone: str = 'UTC'):  # noqa: ANN201
    compiled = compile_cron(expression, zone)
    assert not isinstance(compiled, Refusal), compiled
    return compiled


@pytest.mark.parametrize(
    ('expression', 'zone', 'field'),
    [
        ('61 * * * *', 'UTC', 'cron'),  # minute out of range
        ('* * *', 'UTC', 'cron'),  # three fields
        ('every day', 'UTC', 'cron'),
        ('0 0 31 2 *', 'UTC', 'cron'),  # February 31st: never fires
        ('* * * * *', 'Mars/Olympus', 'timezone'),
        ('* * * * *', '', 'timezone'),
        ('* * * * *', '../etc/passwd', 'timezone'),
        ('0 0 1 * 1', 'UTC', 'cron'),  # both day fields: cron would fire on either (refused: say which)
        ('* * * * 8', 'UTC', 'cron'),
        ('* * * * 5-1', 'UTC', 'cron'),
    ],
)
def test_bad_cron_or_zone_is_refused_naming_the_field(expression, zone, field) -> None:  # noqa: ANN001
    refusal = compile_cron(expression, zone)
    assert isinstance(refusal, Refusal)
    assert (refusal.status, refusal.error, refusal.field) == (422, 'validation', field)


@pytest.mark.parametrize(
    ('expression', 'zone', 'after', 'slot'),
    [
        ('* * * * *', 'UTC', at(10, 0, 30), at(10, 1)),
        ('* * * * *', 'UTC', at(10, 1), at(10, 2)),  # strictly after: a slot is not its own next
        ('*/15 * * * *', 'UTC', at(10, 1), at(10, 15)),
        ('30 2 * * *', 'UTC', at(10, 0), at(2, 30, day=24)),
        # read in the zone: 02:30 in Berlin (UTC+1 in November) is 01:30 UTC
        ('30 2 * * *', 'Europe/Berlin', at(10, 0), at(1, 30, day=24)),
        ('0 9 * * 1-5', 'America/New_York', at(10, 0), at(14, 0, day=23)),  # Monday 09:00 EST is 14:00 UTC
    ],
)
def test_slot_after(expression, zone, after, slot) -> None:  # noqa: ANN001
    assert slot_after(trigger(expression, zone), after) == slot


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ('expression', 'zone', 'after', 'slots'),
    [
        # Berlin sets its clocks back at 03:00 on 25 October: 02:30 comes twice; a nightly run fires at the first
        ('30 2 * * *', 'Europe/Berlin', utc(10, 24, 12), [utc(10, 25, 0, 30), utc(10, 26, 1, 30)]),
        ('30 1 * * *', 'America/New_York', utc(10, 31, 12), [utc(11, 1, 5, 30), utc(11, 2, 6, 30)]),
        # hours that are a wildcard fire in each real hour, the repeated one too
        ('0 * * * *', 'Europe/Berlin', utc(10, 24, 23, 30), [utc(10, 25, 0), utc(10, 25, 1), utc(10, 25, 2)]),
        ('0 */2 * * *', 'Europe/Berlin', utc(10, 24, 22, 30), [utc(10, 25, 0), utc(10, 25, 1), utc(10, 25, 3)]),
        # spring forward: 02:30 does not exist on 29 March; it fires at 03:30 summer time, once
        ('30 2 * * *', 'Europe/Berlin', utc(3, 28, 12), [utc(3, 29, 1, 30), utc(3, 30, 0, 30)]),
    ],
)
def test_a_clock_change_fires_a_set_time_once(expression, zone, after, slots) -> None:  # noqa: ANN001
    assert upcoming(trigger(expression, zone), after, count=len(slots)) == slots


def test_upcoming_lists_the_next_slots() -> None:
    assert upcoming(trigger('*/5 * * * *'), at(10, 2)) == [at(10, 5), at(10, 10), at(10, 15)]


@pytest.mark.parametrize(
    ('next_slot', 'now', 'catch_up', 'plan'),
    [
        # not due yet: nothing to do
        (at(10, 1), at(10, 0, 59), 'once', None),
        # due: fired on time (a sweep finds it within seconds); the next slot is the one after now
        (at(10, 1), at(10, 1, 2), 'once', SlotPlan(at(10, 1), False, None, None, at(10, 2))),
        # found late but within the grace (a server restarted): fired as usual, whatever the policy
        (at(10, 1), at(10, 1, 8), 'skip', SlotPlan(at(10, 1), False, None, None, at(10, 2))),
        # every server down from 10:01 to 10:05:30: catch_up=once runs the latest missed slot, late, and the
        # older ones are recorded as missed ...
        (at(10, 1), at(10, 5, 30), 'once', SlotPlan(at(10, 5), True, at(10, 1), at(10, 4), at(10, 6))),
        # ... catch_up=skip runs none of them
        (at(10, 1), at(10, 5, 30), 'skip', SlotPlan(None, False, at(10, 1), at(10, 5), at(10, 6))),
        # one slot missed
        (at(10, 1), at(10, 1, 30), 'once', SlotPlan(at(10, 1), True, None, None, at(10, 2))),
        (at(10, 1), at(10, 1, 30), 'skip', SlotPlan(None, False, at(10, 1), at(10, 1), at(10, 2))),
        # several missed but the latest within the grace: it runs on time; the older ones were missed
        (at(10, 1), at(10, 5, 5), 'skip', SlotPlan(at(10, 5), False, at(10, 1), at(10, 4), at(10, 6))),
    ],
)
def test_plan_slots(next_slot, now, catch_up, plan) -> None:  # noqa: ANN001
    assert plan_slots(trigger(), next_slot=next_slot, now=now, catch_up=catch_up, grace=GRACE) == plan


def test_a_nightly_schedule_missed_during_an_outage() -> None:
    nightly = trigger('0 2 * * *', 'Europe/Berlin')  # 01:00 UTC in November
    down = plan_slots(nightly, next_slot=at(1, 0), now=at(8, 0), catch_up='once', grace=timedelta(seconds=60))
    assert down == SlotPlan(at(1, 0), True, None, None, at(1, 0, day=24))
    skipped = plan_slots(nightly, next_slot=at(1, 0), now=at(8, 0), catch_up='skip', grace=timedelta(seconds=60))
    assert skipped == SlotPlan(None, False, at(1, 0), at(1, 0), at(1, 0, day=24))


def test_a_long_outage_is_one_decision_not_one_per_slot() -> None:
    # every minute, down for 40 days: the latest slot is found by looking back from now, not by walking 57,600
    first = at(10, 0, day=1) - timedelta(days=10)
    plan = plan_slots(trigger(), next_slot=first, now=at(10, 0, 5), catch_up='once', grace=GRACE)
    assert plan == SlotPlan(at(10, 0), False, first, at(9, 59), at(10, 1))


@pytest.mark.parametrize(
    ('field', 'days'),
    [
        ('*', '*'),
        ('1-5', 'mon,tue,wed,thu,fri'),  # cron's weekdays (APScheduler 3 alone would read Tuesday to Saturday)
        ('0', 'sun'),
        ('7', 'sun'),
        ('5-7', 'sun,fri,sat'),
        ('fri-sun', 'sun,fri,sat'),
        ('*/2', 'sun,tue,thu,sat'),  # cron counts steps from Sunday
        ('1,3,5', 'mon,wed,fri'),
        ('MON-FRI', 'mon,tue,wed,thu,fri'),
        ('0-6', '*'),
    ],
)
def test_weekdays_are_read_as_cron_numbers(field, days) -> None:  # noqa: ANN001
    assert weekdays(field) == days


@pytest.mark.parametrize(
    ('expression', 'fields'),
    [
        ('@daily', ['0', '0', '*', '*', '*']),
        ('@hourly', ['0', '*', '*', '*', '*']),
        ('@weekly', ['0', '0', '*', '*', 'sun']),
        ('  */5   *  * * 1-5 ', ['*/5', '*', '*', '*', 'mon,tue,wed,thu,fri']),
        ('0 12 ? * 1', ['0', '12', '*', '*', 'mon']),
    ],
)
def test_standard_cron(expression, fields) -> None:  # noqa: ANN001
    assert standard_cron(expression) == fields


def test_slot_key_is_the_same_on_every_server_whatever_the_zone() -> None:
    berlin = datetime(2026, 11, 23, 11, 0, tzinfo=UTC).astimezone()
    assert slot_key('sch_1', berlin) == slot_key('sch_1', at(11, 0)) == 'schedule:sch_1:2026-11-23T11:00:00Z'
    assert slot_key('sch_1', at(11, 0)) != slot_key('sch_1', at(11, 1)) != slot_key('sch_2', at(11, 1))


@pytest.mark.parametrize(
    ('expression', 'next_slot', 'now', 'due'),
    [
        ('* * * * *', at(10, 1), at(10, 0, 59), None),  # ahead: the change loses nothing
        ('* * * * *', None, at(10, 0), None),  # paused: no next slot
        ('* * * * *', at(10, 0), at(10, 0), (at(10, 0), at(10, 0))),  # in the second it is due
        ('* * * * *', at(10, 0), at(10, 0, 30), (at(10, 0), at(10, 0))),
        ('* * * * *', at(10, 0), at(10, 3, 5), (at(10, 0), at(10, 3))),  # no server ran meanwhile: all of them
        ('0 * * * *', at(10, 0), at(10, 59, 59), (at(10, 0), at(10, 0))),
        (None, at(10, 0), at(10, 3, 5), (at(10, 0), at(10, 0))),  # an unreadable rule: the slot it had
    ],
)
def test_the_due_slots_a_change_of_rule_or_a_pause_would_leave_unfired(expression, next_slot, now, due) -> None:  # noqa: ANN001
    rule = trigger(expression) if expression else None
    assert due_unfired(rule, next_slot=next_slot, now=now) == due


@pytest.mark.parametrize(
    ('first', 'last', 'change', 'text'),
    [
        (
            at(10, 0),
            at(10, 0),
            'edited',
            'Missed 2026-11-23 10:00 UTC: the schedule was edited while it was due: not run (the new rule starts '
            'after the edit).',
        ),
        (
            at(10, 0),
            at(10, 3),
            'paused',
            'Missed 2026-11-23 10:00 to 2026-11-23 10:03 UTC: the schedule was paused while it was due: not run.',
        ),
    ],
)
def test_the_missed_row_says_the_change_made_it(first, last, change, text) -> None:  # noqa: ANN001
    assert changed_while_due_text(first, last, change) == text
