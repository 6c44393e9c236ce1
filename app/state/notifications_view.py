"""Pure: how notification rules and deliveries read (the Notifications page and `runboard notifications`), what
the webhook form sends (a new rule's body, an edit's changes), and which finished runs become a browser
notification. No NiceGUI, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from app.models.vocabulary import EVENT_TYPES
from app.state.edit_conflict import conflict_text, is_edit_conflict
from app.state.run_timing import retry_planned_text

EVENT_LABELS = {
    'run.failed': 'Run failed',
    'run.timed_out': 'Run timed out',
    'run.crashed': 'Run crashed',
    'run.succeeded': 'Run succeeded',
    'run.stopped': 'Run stopped',
    'run.awaiting_approval': 'Run awaits approval',
    'project.auto_paused': 'AFK loop paused',
    'issue.parked': 'AFK issue parked',
    'project.cost_capped': 'AFK cost cap reached',
    'ping': 'Test (ping)',
}
FORMAT_LABELS = {'runboard': 'Runboard JSON (signed)', 'slack': 'Slack-compatible {"text": ...}'}
STATUS_LABELS = {
    'pending': 'pending',
    'delivered': 'delivered',
    'failed': 'retrying',
    'gave_up': 'gave up',
    'held': 'held',
    'skipped': 'not sent',
}
# badge fills under white text, each with at least 4.5:1 (issue 42)
STATUS_COLORS = {
    'pending': 'grey-8',
    'delivered': 'green-9',
    'failed': 'deep-orange-10',
    'gave_up': 'red-9',
    'held': 'blue-grey-8',
    'skipped': 'grey-8',
}
assert set(EVENT_TYPES) <= set(EVENT_LABELS)  # every event has words
RULE_FIELDS = ('url', 'name', 'format', 'events')  # what the webhook form shows (and a 422 may name)
RULE_FIELD_LABELS = {'url': 'URL', 'name': 'name', 'format': 'format', 'events': 'events'}
DEFAULT_EVENTS = ('run.failed', 'run.timed_out', 'run.crashed')


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value.replace('Z', '+00:00'))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def seconds_text(seconds: float) -> str:
    """'45 s', '2 min 30 s', '1 h 5 min'."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f'{seconds} s'
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f'{minutes} min' + (f' {rest} s' if rest else '')
    hours, minutes = divmod(minutes, 60)
    return f'{hours} h' + (f' {minutes} min' if minutes else '')


def events_text(events: list[str]) -> str:
    return ', '.join(EVENT_LABELS.get(event, event) for event in events)


def rule_form(url: str | None, name: str | None, format: str, events: Iterable[str]) -> dict[str, Any]:
    """What the webhook form's boxes say: the URL and name trimmed, the events ticked."""
    return {'url': (url or '').strip(), 'name': (name or '').strip(), 'format': format, 'events': list(events)}


def new_rule_body(form: Mapping[str, Any]) -> dict[str, Any]:
    """The body that adds a webhook: a blank name is left out (the server names it after the URL's host)."""
    return {key: value for key, value in form.items() if key != 'name' or value}


def rule_changes(rule: Mapping[str, Any], form: Mapping[str, Any]) -> dict[str, Any]:
    """What an edit changes: the form's fields that differ from the rule as the form opened with it (or read it again:
    Reload); a PATCH sends only these (with that rule's version: edit_conflict.edit_body). Events are a set: ticking
    them in another order changes nothing. A name emptied is sent, and the server says it may not be blank."""
    changed = {}
    for key in RULE_FIELDS:
        before, now = rule.get(key), form[key]
        same = set(before or ()) == set(now) if key == 'events' else before == now
        if not same:
            changed[key] = now
    return changed


def rule_saved_text(name: str, changed: Iterable[str]) -> str:
    """What an edit's Save did, in the form's words and order: 'Saved the URL and events of “CI alerts”.'"""
    named = [RULE_FIELD_LABELS[key] for key in RULE_FIELDS if key in set(changed)]
    if not named:
        return f'Nothing to save: “{name}” is as it was.'
    listed = named[0] if len(named) == 1 else f'{", ".join(named[:-1])} and {named[-1]}'
    return f'Saved the {listed} of “{name}”.'


def edit_refusal_text(status: int, name: str, error: str = '') -> str | None:
    """The words for an edit refused because the rule is no longer there (404: deleted meanwhile, by another
    operator or in another tab) or no longer as the form read it (409 edit_conflict: changed meanwhile, Reload
    offered beside them); None for the other refusals, which the form says in its usual words (the server's detail
    of another 409, the field of a 422)."""
    if status == 404:
        return (
            f'Could not save “{name}”: the webhook was deleted meanwhile (by another operator, or in another tab). '
            'Nothing was saved; add it again to keep these settings.'
        )
    if is_edit_conflict(status, error):
        return conflict_text(name, 'webhook')
    return None


def attempt_text(attempt: dict) -> str:
    """One attempt: '#2 · 2025-01-01 12:00:30 UTC · HTTP 500 · 66 ms · receiver says no'. Its time shows the backoff
    between attempts and finds the request in the receiver's log (a Redeliver may come days later: the date too)."""
    parts = [f'#{attempt["number"]}']
    if (at := _parse(attempt.get('at'))) is not None:
        parts.append(at.strftime('%Y-%m-%d %H:%M:%S UTC'))
    if attempt.get('status_code') is not None:
        parts.append(f'HTTP {attempt["status_code"]}')
    parts.append(f'{attempt["duration_ms"]} ms')
    error = attempt.get('error') or ''
    if error and not error.startswith(f'HTTP {attempt.get("status_code")}'):
        parts.append(error)
    elif ': ' in error:
        parts.append(error.split(': ', 1)[1])
    if attempt.get('redelivery'):
        parts.append('redelivered')
    return ' · '.join(parts)


def answer_heading(answer: dict | None) -> str:
    """The line over what a receiver answered to an attempt (operators): 'application/json · the whole body',
    'text/html · cut short (...)', 'text/plain · an empty body'; None: no body was kept (an attempt recorded before
    Runboard kept them)."""
    if answer is None:
        return 'No answer body was kept for this attempt.'
    kind = answer.get('content_type') or 'no Content-Type'
    if answer.get('truncated'):
        return f'{kind} · cut short: the body went on past its first 2 KiB, or stopped coming'
    return f'{kind} · ' + ('the whole body' if answer.get('excerpt') else 'an empty body')


SKIP_REASONS = {
    'in_flight': 'being sent right now',
    'redelivery_pending': 'already redelivered and waiting or retrying',
    'delivered_since': 'delivered since',
    'changed': 'no longer given up',
}


def deliveries_text(n: int) -> str:
    return f'{n} delivery' if n == 1 else f'{n} deliveries'


def skipped_text(answer: dict) -> str:
    """Why "redeliver all that gave up" skipped what it skipped: '2 skipped: 1 being sent right now, 1 delivered
    since'; '' when it skipped none."""
    if not answer.get('skipped'):
        return ''
    reasons = answer.get('skipped_by_reason') or {}
    parts = [f'{count} {SKIP_REASONS.get(reason, reason)}' for reason, count in sorted(reasons.items())]
    return f'{answer["skipped"]} skipped: ' + ', '.join(parts)


def bulk_question(preview: dict, rule_name: str, window: str = 'in the last 24 hours') -> str:
    """The confirmation of "redeliver all that gave up", from its dry run: how many it sends again."""
    question = (
        f'Redeliver {deliveries_text(preview["queued"])} of “{rule_name}” that gave up {window}? '
        'Each is sent again under its own id, in a new round of attempts.'
    )
    if not preview.get('rule_enabled', True):
        question += ' The webhook is switched off: they wait until it is switched on.'
    skipped = skipped_text(preview)
    return question + (f' ({skipped}.)' if skipped else '')


def bulk_result(answer: dict, rule_name: str, window: str = 'in the last 24 hours') -> str:
    """What "redeliver all that gave up" did, in a line (the page's notice, the CLI's output)."""
    if not answer['queued'] and not answer['skipped']:
        return f'Nothing to redeliver: no delivery of “{rule_name}” gave up {window}.'
    done = 'Would queue' if answer.get('dry_run') else 'Queued'
    text = f'{done} {deliveries_text(answer["queued"])} of “{rule_name}” again'
    skipped = skipped_text(answer)
    text += f'; {skipped}.' if skipped else '.'
    if answer['queued'] and not answer.get('rule_enabled', True):
        text += ' The webhook is switched off: they wait until it is switched on.'
    return text


def delivery_state(delivery: dict, now: datetime | None = None) -> str:
    """Where a delivery stands, in words: 'delivered (HTTP 200) after 3 attempts', 'retrying in 30 s', ..."""
    count = delivery['attempts']
    tries = f'{count} attempt' + ('' if count == 1 else 's')
    status = delivery['status']
    if status == 'delivered':
        return f'delivered (HTTP {delivery.get("last_status_code")}) after {tries}'
    if status == 'gave_up':
        return f'gave up after {tries}: {delivery.get("last_error") or "no 2xx answer"}'
    if status == 'skipped':  # last_error: 'retried as run_...'
        return f'not sent: the run was {delivery.get("last_error") or "retried"}'
    if status in ('pending', 'failed') and delivery.get('rule_enabled') is False:  # nothing is sent while it is off
        last = f', last: {delivery.get("last_error") or "failed"}' if status == 'failed' else ''
        return f'waiting: its webhook is switched off ({tries} so far{last}); sent when it is switched on'
    due = _parse(delivery.get('next_attempt_at'))
    wait = (due - (now or datetime.now(UTC))).total_seconds() if due else 0
    if status == 'held':
        return f'held: the run is to be retried automatically; sent in {seconds_text(wait)} if no retry is made'
    when = f'next attempt in {seconds_text(wait)}' if wait >= 1 else 'sending now'
    if status == 'failed':
        return f'retrying ({tries} so far, last: {delivery.get("last_error") or "failed"}); {when}'
    return when


@dataclass(frozen=True)
class BrowserAlert:
    title: str
    body: str
    url: str
    tag: str  # one notification per run, however many tabs show it


_ENDED = {
    'succeeded': 'succeeded',
    'failed': 'failed',
    'timed_out': 'timed out',
    'crashed': 'crashed',
    'stopped': 'was stopped',
}


def is_run_end(event: dict) -> bool:
    """A live change event saying a run ended (the browser then reads the run to see whose it is)."""
    return event.get('type') == 'run' and event.get('status') in _ENDED


# a delivery in these states changes with no change event (an attempt, a retry falling due, a held one sent or
# skipped): the delivery log reads again while it shows any
CHANGING = ('pending', 'failed', 'held')
WATCH_SECONDS = 15.0  # how long the log keeps reading after a run began to wait (the sender records it on a pass)


def any_changing(deliveries: list[dict]) -> bool:
    return any(item.get('status') in CHANGING for item in deliveries)


def log_reread(event: dict) -> Literal['now', 'soon'] | None:
    """When a live change event may have brought the delivery log new rows: 'now' for a run's end (its deliveries
    are written with it: run.*, issue.parked, project.auto_paused) and for a project's change (project.cost_capped
    and the other project events); 'soon' for a run that now waits (run.awaiting_approval is recorded by the
    sender's next pass, seconds later, with no event of its own): the log reads again for WATCH_SECONDS."""
    if is_run_end(event) or event.get('type') == 'project':
        return 'now'
    if event.get('type') == 'run' and event.get('status') == 'delayed':
        return 'soon'
    return None


def own_run_alert(run: dict, my_user_id: str | None) -> BrowserAlert | None:
    """The browser notification for a run that ended, when it is the person's own run; else None."""
    if not my_user_id or run.get('user_id') != my_user_id or run.get('status') not in _ENDED:
        return None
    detail = f' (exit code {run["exit_code"]})' if run.get('exit_code') not in (None, 0) else ''
    planned = f' · {retry_planned_text(run["retry_planned"])}' if run.get('retry_planned') else ''
    commit = f' · {run["commit_title"]}' if run.get('commit_title') else ''  # what was run, as its author wrote it
    cell = f'{run["depth_level"]}/{run["target_framework"]}'
    return BrowserAlert(
        title=f'Run {_ENDED[run["status"]]}{detail}',
        body=f'{run["project_id"]} · {run["branch_name"]} · {cell}{commit}{planned}',
        url=f'/runs/{run["id"]}',
        tag=f'runboard-{run["id"]}',
    )
