"""Schedules as a person reads them (the schedules page, the project cards) and the schedule form's body.
Pure: no I/O, no NiceGUI."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.state.run_timing import clock, parse, until_text

SCHEDULE_FIELDS = ('name', 'cron', 'timezone', 'branch', 'depth_level', 'target_framework', 'catch_up', 'variables')
CATCH_UP = {
    'once': 'Missed while no server ran: one run, for the latest missed slot',
    'skip': 'Missed while no server ran: skipped (no run)',
}
CRON_EXAMPLES = {
    '*/15 * * * *': 'every 15 minutes',
    '0 * * * *': 'every hour',
    '30 2 * * *': 'every day at 02:30',
    '0 9 * * 1-5': 'weekdays at 09:00',
    '0 6 * * 1': 'Mondays at 06:00',
}
COMMON_ZONES = (
    'UTC',
    'Europe/London',
    'Europe/Berlin',
    'Europe/Paris',
    'America/New_York',
    'America/Chicago',
    'America/Los_Angeles',
    'America/Sao_Paulo',
    'Asia/Kolkata',
    'Asia/Singapore',
    'Asia/Tokyo',
    'Australia/Sydney',
)


def new_schedule_zone(browser: str, known: Collection[str]) -> str:
    """A new schedule's zone in the form: the browser's own, the zone the person reads times in; UTC (the API's
    default) when the browser did not say, or named a zone this server does not know (the server would refuse it)."""
    return browser if browser in known else 'UTC'


def parameters_text(schedule: dict[str, Any]) -> str:
    """'main · shallow/python · as ann'."""
    owner = schedule.get('user_name') or schedule.get('user_id') or '?'
    return f'{schedule["branch"]} · {schedule["depth_level"]}/{schedule["target_framework"]} · as {owner}'


def cron_text(schedule: dict[str, Any]) -> str:
    """'30 2 * * * (Europe/Berlin)', with the words for a well-known expression."""
    words = CRON_EXAMPLES.get(schedule['cron'])
    return f'{schedule["cron"]} ({schedule["timezone"]})' + (f' · {words}' if words else '')


@dataclass(frozen=True)
class NextLine:
    prefix: str  # 'next run ' (the browser counts the rest: 'in 4 min')
    moment: datetime | None
    suffix: str  # ' · nightly'
    title: str  # the exact time

    def text(self, now: datetime) -> str:
        return self.prefix + (until_text(self.moment, now) if self.moment else '') + self.suffix


def next_line(schedule: dict[str, Any]) -> NextLine:
    """A schedule's next firing: 'next run in 4 min' (or 'paused')."""
    moment = parse(schedule.get('next_fire_at'))
    if schedule.get('paused') or moment is None:
        return NextLine('paused', None, '', 'Paused: no slot fires until it is resumed')
    return NextLine('next run ', moment, '', f'Next slot: {clock(moment)}')


def card_line(project: dict[str, Any]) -> NextLine | None:
    """A project card's 'next run in 4 min · nightly' (None: no running schedule)."""
    nxt = project.get('next_schedule')
    moment = parse(nxt.get('at')) if nxt else None
    if not nxt or moment is None:
        return None
    return NextLine('next run ', moment, f' · {nxt["name"]}', f'{nxt["name"]}: {clock(moment)}')


@dataclass(frozen=True)
class FiringView:
    state: str  # admitted | skipped | missed | pending
    label: str  # what the history's badge says
    tone: str  # positive | warning | muted | info
    run_id: str | None
    run_status: str | None
    text: str  # the reason, the gap, or ''


def firing_view(firing: dict[str, Any]) -> FiringView:
    state = firing['state']
    late = ' (late: catch-up)' if firing.get('late') else ''
    if state == 'admitted':
        return FiringView(state, 'ran' + late, 'positive', firing.get('run_id'), firing.get('run_status'), '')
    if state == 'skipped':
        reason = firing.get('reason') or 'refused'
        text = f'{reason}: {firing.get("detail")}' if firing.get('detail') else reason
        return FiringView(state, 'skipped', 'warning', None, None, text)
    if state == 'missed':
        return FiringView(state, 'missed', 'muted', None, None, firing.get('detail') or '')
    return FiringView(state, 'firing…', 'info', None, None, 'being admitted')


FIRINGS_SHOWN = 10  # per schedule on its page; the page reads one more to know whether older ones exist


def firings_shown(
    schedule_id: str, firings: list[dict[str, Any]], shown: int = FIRINGS_SHOWN
) -> tuple[list[dict[str, Any]], str | None]:
    """The past firings a schedule's card lists (newest first, read with limit shown + 1) and, when older ones
    exist, the note saying only the latest are shown and where to read the rest."""
    if len(firings) <= shown:
        return firings, None
    note = f'Only the latest {shown} firings are shown; for older ones: runboard schedules history {schedule_id} -n 200'
    return firings[:shown], note


def form_body(values: dict[str, Any]) -> dict[str, Any]:
    """The create/edit body from the form's boxes (blank boxes left out: the server says what is missing)."""
    body: dict[str, Any] = {}
    for name in SCHEDULE_FIELDS:
        value = values.get(name)
        if isinstance(value, str):
            value = value.strip()
        if value not in (None, ''):
            body[name] = value
    return body


def changes(before: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """What an edit changes (PATCH sends only that)."""
    return {k: v for k, v in body.items() if before.get(k) != v}


def preview_text(slots: list[str], timezone: str) -> str:
    """What the schedule form says under the cron while one types: the next slots, in the schedule's zone."""
    shown = _slots_in_zone(slots, timezone)
    if not shown:
        return 'Never fires: no slot matches'
    return f'Next: {", ".join(shown)} ({timezone})'


def later_slots_text(upcoming: list[str], timezone: str) -> str | None:
    """What a schedule's card says after its next firing ("next run in 6 min"): the slots after that one, written as
    the form wrote them and in the zone its cron is read in; None when there are none."""
    shown = _slots_in_zone(upcoming, timezone)[1:]
    return f'then {", ".join(shown)} ({timezone})' if shown else None


def _slots_in_zone(slots: list[str], timezone: str) -> list[str]:
    moments = [parse(slot) for slot in slots]
    return [f'{m.astimezone(_zone(timezone)):%a %Y-%m-%d %H:%M}' for m in moments if m is not None]


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC
