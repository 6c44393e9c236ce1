"""Pure decisions about time on the trigger path (no I/O): when a delayed run is due (`run_at` / `run_in`),
how long a queued run may wait (`ttl`), and whether a delayed or queued run's moment has come.

Durations read like GitHub's and trigger.dev's: a number with a unit, or several (`90s`, `10m`, `2h`, `1d`,
`1h30m`); a bare number is seconds. A time without a UTC offset is UTC, as everywhere in the API."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.core.errors import DomainError, Refusal

MAX_DELAY = timedelta(days=30)  # a run may be asked for at most this far ahead
MAX_TTL_SECONDS = 30 * 86400
_UNITS = {'s': 1, 'm': 60, 'h': 3600, 'd': 86400}
_DURATION = re.compile(r'(?:(\d{1,7})([smhd]))')


def parse_duration(text: str | int) -> int | None:
    """Seconds in `text` ('10m', '1h30m', '45', 45), None when it is not a duration (or is zero)."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if text > 0 else None
    value = text.strip().lower().replace(' ', '')
    if value.isdigit():
        return int(value) or None
    parts = _DURATION.findall(value)
    if not parts or ''.join(n + u for n, u in parts) != value:
        return None
    return sum(int(number) * _UNITS[unit] for number, unit in parts) or None


def duration_text(seconds: float) -> str:
    """A wait as a person says it: 2 s, 45 s, 3 min 5 s, 2 h 10 min, 1 d 2 h."""
    whole = max(0, int(round(seconds)))
    for size, unit, smaller, small_unit in ((86400, 'd', 3600, 'h'), (3600, 'h', 60, 'min'), (60, 'min', 1, 's')):
        if whole >= size:
            rest = (whole % size) // smaller
            return f'{whole // size} {unit}' + (f' {rest} {small_unit}' if rest else '')
    return f'{whole} s'


def parse_time(text: str) -> datetime | None:
    """An ISO 8601 time ('Z' or an offset; none: UTC), None when it is not one."""
    try:
        moment = datetime.fromisoformat(text.strip().replace('Z', '+00:00').replace('z', '+00:00'))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


LOOK_BACK_DEFAULT = timedelta(hours=24)  # a window asked "since" nothing: the last day
LOOK_BACK_LONGEST = timedelta(days=31)  # a night's or a week's summary, a month at most: not a project's whole life


def window_start(since: str | None, now: datetime) -> datetime:
    """Where a `since` window starts (the AFK summary, Redeliver all that gave up): a duration back from now (`12h`,
    `90m`, `2d`, `1h30m`), an ISO 8601 time (no offset: UTC), or the last 24 hours when not given. 422 `validation`
    (field `since`) for anything else, a time to come, or more than 31 days back."""
    if since is None or not since.strip():
        return now - LOOK_BACK_DEFAULT
    seconds = parse_duration(since)
    moment = now - timedelta(seconds=seconds) if seconds is not None else parse_time(since)
    if moment is None:
        raise DomainError(
            422,
            'validation',
            f'since={since!r} is neither a duration (12h, 90m, 2d) nor an ISO 8601 time.',
            field='since',
        )
    if moment > now:
        raise DomainError(422, 'validation', f'since={since!r} is in the future.', field='since')
    if now - moment > LOOK_BACK_LONGEST:
        raise DomainError(422, 'validation', f'since={since!r} is more than 31 days back.', field='since')
    return moment


@dataclass(frozen=True)
class Timing:
    """What a trigger asked for about time: due at run_at (None: now), waiting queued at most ttl_seconds."""

    run_at: datetime | None = None
    ttl_seconds: int | None = None

    def payload(self, run_at_text: str | None, run_in_text: str | None, ttl_text: str | int | None) -> dict:
        """The trigger body's timing fields as the idempotency fingerprint sees them: run_in as sent (a resend
        of `run_in: 10m` is the same request), run_at normalised (one moment, whatever its offset)."""
        fields: dict[str, str | int | None] = {
            'run_at': self.run_at.astimezone(UTC).isoformat() if run_at_text is not None and self.run_at else None,
            'run_in': run_in_text.strip().lower() if run_in_text is not None else None,
            'ttl': self.ttl_seconds if ttl_text is not None else None,
        }
        return {k: v for k, v in fields.items() if v is not None}


def _invalid(field: str, detail: str) -> Refusal:
    return Refusal(422, 'validation', detail, field=field)


def resolve_timing(*, run_at: str | None, run_in: str | None, ttl: str | int | None, now: datetime) -> Timing | Refusal:
    """The trigger's timing, or the refusal naming the field at fault (a past run_at: past_refusal)."""
    if run_at is not None and run_in is not None:
        return _invalid('run_at', 'Give run_at or run_in, not both.')
    due: datetime | None = None
    if run_in is not None:
        seconds = parse_duration(run_in)
        if seconds is None:
            return _invalid('run_in', f'run_in {run_in!r} is not a duration; write e.g. 90s, 10m, 2h, 1d or 1h30m.')
        if seconds > MAX_DELAY.total_seconds():
            return _invalid('run_in', f'run_in is more than {MAX_DELAY.days} days ahead.')
        due = now + timedelta(seconds=seconds)
    if run_at is not None:
        try:  # a time at the edge of the calendar (year 1 with an offset) has no UTC moment
            due = parse_time(run_at)
            due = due.astimezone(UTC) if due else None
        except OverflowError:
            due = None
        if due is None:
            return _invalid('run_at', f'run_at {run_at!r} is not an ISO 8601 time, e.g. 2026-11-23T14:30:00Z.')
        if due - now > MAX_DELAY:
            return _invalid('run_at', f'run_at is more than {MAX_DELAY.days} days ahead.')
    ttl_seconds = None
    if ttl is not None:
        ttl_seconds = parse_duration(ttl)
        if ttl_seconds is None:
            return _invalid('ttl', f'ttl {ttl!r} is not a duration; write seconds or e.g. 30s, 10m, 2h.')
        if ttl_seconds > MAX_TTL_SECONDS:
            return _invalid('ttl', f'ttl is at most {MAX_TTL_SECONDS // 86400} days.')
    return Timing(due, ttl_seconds)


def past_refusal(timing: Timing, now: datetime) -> Refusal | None:
    """A run_at that has passed: refused, unless the request is a resend (its key's run is answered first)."""
    if timing.run_at is not None and timing.run_at <= now:
        return _invalid('run_at', f'run_at {timing.run_at.isoformat()} is in the past; leave it out to run now.')
    return None


def expiry(queued_at: datetime, *, run_ttl: int | None, project_ttl: int | None) -> datetime | None:
    """When a run queued at `queued_at` expires: the trigger's ttl wins over the project's; None: never."""
    ttl = run_ttl or project_ttl
    return queued_at + timedelta(seconds=ttl) if ttl else None


def waited_text(queued_at: datetime, now: datetime, reason: str | None) -> str:
    """The expired run's timeline event: how long it waited, and for what."""
    waited = f'waited {duration_text((now - queued_at).total_seconds())} in the queue'
    return f'{waited}, {reason}' if reason else waited
