"""Pure schedule decisions (no I/O): reading a cron expression in a time zone (APScheduler 3's CronTrigger),
the slots it fires at, which slot a sweep fires now and which it counts as missed (the catch-up policy), and
the idempotency key of a slot.

A slot is *due* once its time has come. A due slot no later than `grace` ago is fired as usual (a sweep
every few seconds finds it; a server that restarts within the grace still fires it). Slots older than that
were missed while no server ran: `catch_up='once'` fires one run for the latest of them, `'skip'` fires none.
Either way the schedule then waits for its next slot after now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from app.core.errors import Refusal

UPCOMING = 3  # slots a schedule shows ahead
_BACKWARD = (timedelta(minutes=10), timedelta(hours=6), timedelta(days=3), timedelta(days=40), timedelta(days=400))


MACROS = {
    '@yearly': '0 0 1 1 *',
    '@annually': '0 0 1 1 *',
    '@monthly': '0 0 1 * *',
    '@weekly': '0 0 * * 0',
    '@daily': '0 0 * * *',
    '@midnight': '0 0 * * *',
    '@hourly': '0 * * * *',
}
DAY_NAMES = ('sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat')  # cron's numbers: 0 (and 7) is Sunday


def _day(value: str) -> int:
    name = value.strip().lower()
    if name in DAY_NAMES:
        return DAY_NAMES.index(name)
    number = int(name)  # ValueError: not a day
    if not 0 <= number <= 7:
        raise ValueError(f'day of week {value} is not 0-7')
    return number % 7


def weekdays(field: str) -> str:
    """Cron's day-of-week field as APScheduler 3 reads it. The numbers differ (cron: 0 = Sunday; APScheduler 3:
    0 = Monday, its issue 286), so the days are spelled as names: `1-5` becomes mon,tue,wed,thu,fri."""
    days: set[int] = set()
    for part in field.split(','):
        span, _, step_text = part.partition('/')
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f'step {step_text} in {part!r}')
        if span == '*':
            first, last = 0, 6
        elif '-' in span:
            start, _, end = span.partition('-')
            first, last = _day(start), _day(end)
            last = 7 if last == 0 and first > 0 else last  # 5-7, fri-sun: Friday to Sunday
            if first > last:
                raise ValueError(f'day-of-week range {span!r} runs backwards')
        else:
            first = _day(span)
            last = 6 if step_text else first
        days.update(day % 7 for day in range(first, last + 1, step))
    return '*' if len(days) == 7 else ','.join(DAY_NAMES[day] for day in sorted(days))


def standard_cron(expression: str) -> list[str]:
    """The five fields of a standard cron expression (or a macro like @daily). ValueError: why it is not one.
    Both day fields restricted is refused: standard cron fires when *either* matches, which a reader rarely
    expects (and APScheduler would read as both)."""
    text = ' '.join(expression.split())
    fields = MACROS.get(text.lower(), text).split()
    if len(fields) != 5:
        raise ValueError(f'{len(fields)} fields, not five')
    minute, hour, day, month, day_of_week = (field.replace('?', '*') for field in fields)
    if day != '*' and day_of_week != '*':
        raise ValueError('give a day of the month or a day of the week, not both')
    return [minute, hour, day, month, weekdays(day_of_week)]


def compile_cron(expression: str, timezone: str) -> CronTrigger | Refusal:
    """The trigger for a five-field cron expression read in an IANA time zone, or the refusal naming the field."""
    try:
        zone = ZoneInfo(timezone.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return Refusal(
            422,
            'validation',
            f'timezone {timezone!r} is not a known IANA time zone (e.g. Europe/Berlin, UTC).',
            field='timezone',
        )
    try:
        minute, hour, day, month, day_of_week = standard_cron(expression)
        trigger = CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week, timezone=zone)
    except ValueError as exc:
        return Refusal(
            422,
            'validation',
            f'cron {expression!r} is not a cron expression ({exc}); five fields: minute hour day-of-month month '
            'day-of-week, e.g. "30 2 * * *" or "*/15 * * * 1-5", or @hourly, @daily, @weekly, @monthly.',
            field='cron',
        )
    if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
        return Refusal(422, 'validation', f'cron {expression!r} never fires.', field='cron')
    return trigger


def first_slot_at_or_after(trigger: CronTrigger, moment: datetime) -> datetime | None:
    slot = trigger.get_next_fire_time(None, moment)
    while slot is not None and wall_time_again(slot, _hour_field(trigger)):
        # on from the instant, in UTC: the wall time names two instants, and APScheduler reads it as the first
        slot = trigger.get_next_fire_time(None, slot.astimezone(UTC) + timedelta(seconds=1))
    return slot.astimezone(UTC) if slot is not None else None


def _hour_field(trigger: CronTrigger) -> str:
    return next(str(field) for field in trigger.fields if field.name == 'hour')


def wall_time_again(slot: datetime, hour_field: str) -> bool:
    """Pure: is `slot` (aware, in the schedule's zone) the second pass of a wall-clock time, in the hour a clock set
    back repeats, of a schedule at set hours? Cron runs a job at fixed times once on that day (a 02:30 nightly run
    fires at the first 02:30), while one whose hours are a wildcard (`*`, `*/2`) fires in each real hour."""
    if hour_field.startswith('*') or slot.tzinfo is None:
        return False
    local = slot.astimezone(slot.tzinfo)
    return local.fold == 1 and local.replace(fold=0).astimezone(UTC) != local.astimezone(UTC)


def slot_after(trigger: CronTrigger, moment: datetime) -> datetime | None:
    """The first slot strictly after `moment` (cron slots fall on whole seconds)."""
    return first_slot_at_or_after(trigger, moment + timedelta(microseconds=1))


def upcoming(trigger: CronTrigger, now: datetime, count: int = UPCOMING) -> list[datetime]:
    slots: list[datetime] = []
    moment = now
    while len(slots) < count:
        slot = slot_after(trigger, moment)
        if slot is None:
            break
        slots.append(slot)
        moment = slot
    return slots


def latest_slot_by(trigger: CronTrigger, first: datetime, now: datetime) -> datetime:
    """The latest slot in [first, now], `first` being a slot <= now. Looks back from now in growing steps, so
    a schedule every minute left for a month costs a few steps, not 40,000."""
    start = first
    for back in _BACKWARD:
        if now - back <= first:
            break
        probe = first_slot_at_or_after(trigger, now - back)
        if probe is not None and probe <= now:
            start = probe
            break
    latest = start
    while True:
        following = slot_after(trigger, latest)
        if following is None or following > now:
            return latest
        latest = following


@dataclass(frozen=True)
class SlotPlan:
    """What one sweep does for one schedule whose next slot is due."""

    fire: datetime | None  # the slot to fire now (None: none)
    late: bool  # it is fired after its grace: a catch-up
    missed_from: datetime | None  # slots from here ...
    missed_until: datetime | None  # ... to here (inclusive) were missed and are not fired
    next_slot: datetime | None  # the schedule's next slot after now


def plan_slots(
    trigger: CronTrigger, *, next_slot: datetime, now: datetime, catch_up: str, grace: timedelta
) -> SlotPlan | None:
    """None when `next_slot` is not due yet; else which slot to fire, which were missed, and what comes next."""
    if next_slot > now:
        return None
    latest = latest_slot_by(trigger, next_slot, now)
    following = slot_after(trigger, now)
    on_time = now - latest <= grace
    fire = latest if on_time or catch_up == 'once' else None
    if fire is not None:
        missed_until = _slot_before(trigger, next_slot, latest)
    else:
        missed_until = latest
    return SlotPlan(
        fire=fire,
        late=fire is not None and not on_time,
        missed_from=next_slot if missed_until is not None else None,
        missed_until=missed_until,
        next_slot=following,
    )


def due_unfired(
    trigger: CronTrigger | None, *, next_slot: datetime | None, now: datetime
) -> tuple[datetime, datetime] | None:
    """Pure: the slots of a schedule's rule that are due and not fired yet, as (first, last), when its rule is about to
    be replaced or paused (its next slot moved past now, or cleared); None when its next slot lies ahead. Without a
    readable rule (None) the next slot is the only one known."""
    if next_slot is None or next_slot > now:
        return None
    return next_slot, latest_slot_by(trigger, next_slot, now) if trigger is not None else next_slot


def _slot_before(trigger: CronTrigger, first: datetime, slot: datetime) -> datetime | None:
    """The slot just before `slot`, not earlier than `first` (None when `slot` is `first`)."""
    if slot <= first:
        return None
    return latest_slot_by(trigger, first, slot - timedelta(microseconds=1))


def slot_key(schedule_id: str, slot: datetime) -> str:
    """The Idempotency-Key of one slot: every server firing it sends the same key, so admission makes one run."""
    return f'schedule:{schedule_id}:{slot.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}'
