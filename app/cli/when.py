"""Pure CLI helpers for `--at`: a time as a person types it in their terminal. No I/O."""

from __future__ import annotations

from datetime import datetime, time, timedelta


def at_time(text: str, now: datetime) -> str | None:
    """`--at` as the ISO 8601 time the API takes, read in the terminal's own zone (`now`'s) unless it names an
    offset: 14:30 (the next 14:30, today or tomorrow), 2026-11-23 14:30, 2026-11-23T14:30:00+01:00, ...Z.
    None when it is none of these. `now` carries the zone (a ZoneInfo), so a time past a DST change gets that
    day's offset."""
    value = text.strip()
    try:
        clock = time.fromisoformat(value)
    except ValueError:
        clock = None
    if clock is not None and clock.tzinfo is None:
        moment = now.replace(hour=clock.hour, minute=clock.minute, second=clock.second, microsecond=0)
        return (moment if moment > now else moment + timedelta(days=1)).isoformat()
    try:
        moment = datetime.fromisoformat(value.replace('Z', '+00:00').replace('z', '+00:00'))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)).isoformat()


def since_value(text: str, now: datetime) -> str:
    """`--since` as the API takes it: a time without an offset read in the terminal's zone (`now`'s), as `--at` is;
    anything else (a duration such as 12h, a time with its offset) as typed: the server says what is wrong with it."""
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return (moment if moment.tzinfo else moment.replace(tzinfo=now.tzinfo)).isoformat()
