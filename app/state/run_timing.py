"""When and by whom a run started, what its processes used (memory, CPU time), the automatic retry it has coming,
delayed runs, queue TTLs and schedules as a person reads them, and the Run form's "Run later" choice as the trigger
body's fields. Pure: no I/O, no NiceGUI (the browser keeps "in 4 min" ticking: assets/live-time.js, data-rb-until,
the same words as until_text)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.models.vocabulary import TERMINAL_STATUSES, awaits_approval

CANCELLABLE = ('delayed',)  # Stop on these says Cancel: the run ends without ever starting
NOT_STARTED_ENDINGS = ('expired', 'skipped', 'cancelled')  # ended before they started: their error says why


def parse(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace('Z', '+00:00'))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def until_text(moment: datetime, now: datetime) -> str:
    """'in 4 min', 'in 12 s', 'in 2 h', 'due now'."""
    seconds = int((moment - now).total_seconds())
    if seconds < 1:
        return 'due now'
    for size, unit in ((86400, 'd'), (3600, 'h'), (60, 'min')):
        if seconds >= size:
            return f'in {seconds // size} {unit}'
    return f'in {seconds} s'


def clock(moment: datetime) -> str:
    """The UTC time it names: 14:30:00 UTC (the browser's own zone is unknown here; the tooltip is exact)."""
    return f'{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC'


@dataclass(frozen=True)
class TimingLine:
    """One line about a run's time: its prefix (live-counted `until`), the moment, and the full sentence."""

    prefix: str
    moment: datetime
    title: str


def timing_line(run: dict) -> TimingLine | None:
    """A delayed run: when it runs; a queued run with a TTL: when it expires. None for the others."""
    status = run.get('status')
    if run.get('approval') == 'waiting':  # it runs when an operator approves it, not at a time
        return None
    if held_back_text(run):  # approved, it runs when the lock or the limit lets it, not at the time it is tried again
        return None
    if status == 'delayed' and (due := parse(run.get('run_at'))):
        return TimingLine('runs ', due, f'Delayed: runs at {clock(due)}; holds no slot, lock or quota until then')
    if status == 'queued' and (expires := parse(run.get('expires_at'))):
        return TimingLine('expires ', expires, f'Expires at {clock(expires)} if it has not started by then')
    return None


def start_fact(run: dict) -> tuple[str, str | None]:
    """The header's time field: 'started' and when, once the run has started; before that (delayed, queued,
    expired, skipped) 'created': a run that never ran must not read as started."""
    if run.get('started_at'):
        return 'started', run['started_at']
    return 'created', run.get('created_at')


TRIGGERED_BY_WORDS = {'push': 'push rules', 'pull_request': 'push rules', 'scheduled': 'schedule'}


def started_by(run: dict, *, through: bool = True) -> str:
    """Who a run is by: its person; a run the AFK auto-loop launched by itself has none (LOOP_RUN_SQL). A push,
    pull-request or scheduled run is admitted as the person who set its rules or schedule, who did not start it:
    `ann (push rules)`, so it does not read as ann having pushed (the pusher is in push_text). `through=False`: the
    name alone, where a row has no room for more and its kind says how the run came (the runs list, with the whole
    in its tooltip)."""
    name = run.get('user_name')
    if not name:
        return 'the auto-loop' if run.get('kind') == 'auto' else '—'
    how = TRIGGERED_BY_WORDS.get(str(run.get('kind'))) if through else None
    return f'{name} ({how})' if how else name


def ended_unstarted_reason(run: dict) -> str | None:
    """Why an expired, skipped or stopped run never started (its error), else None. A delayed run cancelled before
    its time also says when it was due: lists order runs by when they were due, so it stands at that time."""
    status = run.get('status')
    if status == 'stopped' and not run.get('started_at'):
        due = parse(run.get('run_at'))
        said = run.get('error') or 'stopped before it started'
        return f'{said} (it was to run at {clock(due)})' if due else said
    if status in NOT_STARTED_ENDINGS:
        return run.get('error') or status
    return None


# ------------------------------------------------------------------ the Run form's "Run later"
LATER_MODES = {'now': 'Run now', 'in': 'Run in…', 'at': 'Run at…'}


@dataclass(frozen=True)
class LaterChoice:
    mode: str = 'now'  # now | in | at
    after: str = ''  # mode 'in': a duration, e.g. 10m, 2h
    at: str = ''  # mode 'at': the browser's datetime-local value, YYYY-MM-DDTHH:MM, in `zone`
    zone: str = 'UTC'  # the browser's IANA time zone
    ttl: str = ''  # optional: give up if still queued after this long


def later_fields(choice: LaterChoice) -> dict[str, str] | str:
    """The trigger body's run_in / run_at / ttl for the choice, or what is missing (the server checks the rest
    and answers a 422 naming the field)."""
    fields: dict[str, str] = {}
    if choice.mode == 'in':
        if not choice.after.strip():
            return 'Say in how long, e.g. 10m or 2h.'
        fields['run_in'] = choice.after.strip()
    elif choice.mode == 'at':
        if not choice.at.strip():
            return 'Pick the date and time to run at.'
        try:
            local = datetime.fromisoformat(choice.at.strip())
            zone = ZoneInfo(choice.zone or 'UTC')
        except (ValueError, ZoneInfoNotFoundError):
            return f'{choice.at} is not a date and time.'
        moment = local if local.tzinfo else local.replace(tzinfo=zone)
        fields['run_at'] = moment.isoformat()
    if choice.ttl.strip():
        fields['ttl'] = choice.ttl.strip()
    return fields


def retry_planned_text(planned: dict) -> str:
    """A run whose automatic retry is to come: 'to be retried automatically (attempt 2 of 3)', and why it waits."""
    said = f'to be retried automatically (attempt {planned["attempt"]} of {planned["of"]})'
    return said + (f'; it waits: {planned["waits"]}' if planned.get('waits') else '')


def approval_text(run: dict) -> str | None:
    """A run that waits for an operator, in words (None: it waits for none)."""
    if not awaits_approval(run):
        return None
    return f"waiting for an operator's approval (branch {run.get('branch_name')} is protected)"


def approved_text(run: dict) -> str | None:
    """A run approved and not yet admitted (due now, at its own time, or waiting for its branch): who approved it."""
    if run.get('approval') != 'approved' or run.get('status') != 'delayed':
        return None
    return f'approved by {run.get("approved_by") or "an operator"}'


def held_back_text(run: dict) -> str | None:
    """An approved run a lock, a limit or the quota held back at its last try: why (tried again every few seconds)."""
    if run.get('status') != 'delayed' or run.get('approval') != 'approved' or not run.get('waits_for'):
        return None
    return f'waits: {run["waits_for"]}'


def resources_text(run: dict) -> str | None:
    """What the run's processes used, from its cgroup (docs/security.md): e.g. `peak memory 312.4 MiB of 2.0 GiB ·
    CPU 4.21 s` (`of`: the memory limit it runs under), `... so far` while it runs; None where nothing was measured
    (not yet, or no cgroups on the machine that ran it)."""
    parts = []
    if (peak := run.get('peak_memory_bytes')) is not None:
        limit = run.get('memory_max_bytes')
        parts.append(f'peak memory {memory_text(peak)}' + (f' of {memory_text(limit)}' if limit else ''))
    if (cpu := run.get('cpu_seconds')) is not None:
        parts.append(f'CPU {cpu:.2f} s' if cpu < 60 else f'CPU {int(cpu // 60)} min {int(cpu % 60)} s')
    if parts and run.get('status') not in TERMINAL_STATUSES:
        parts[-1] += ' so far'
    return ' · '.join(parts) or None


USAGE_FIELDS = ('peak_memory_bytes', 'cpu_seconds', 'memory_max_bytes')


def with_usage(run: dict, event: dict) -> dict | None:
    """Pure: the run with what a `run.usage` event says it used so far, or None when the event is not for it or
    comes after its end (whose figures are final: the event was on its way when the run ended)."""
    if event.get('type') != 'run.usage' or event.get('id') != run.get('id'):
        return None
    if run.get('status') in TERMINAL_STATUSES:
        return None
    said = {key: event.get(key) for key in USAGE_FIELDS}
    if not all(value is None or _measure(value) for value in said.values()):
        return None  # not what a heartbeat says: shown as measured, it would be a lie
    return {**run, **said}


def _measure(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < float('inf')


def memory_text(size: int) -> str:
    """`312.4 MiB`, `2.0 GiB`, `512.0 KiB`: as the run limits say them."""
    scaled, unit = next(
        ((size / s, u) for u, s in (('GiB', 1024**3), ('MiB', 1024**2)) if size >= s), (size / 1024, 'KiB')
    )
    return f'{scaled:.1f} {unit}'
