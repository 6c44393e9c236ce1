"""The AFK loop's summary since a moment as people read it (docs/afk.md, "The summary"): the lines the project page's
section (pages/afk_summary.py) and `runboard afk summary` both show, from GET /api/projects/{id}/afk/summary. Pure,
but for `load`; no NiceGUI here."""

from __future__ import annotations

from typing import Any

from app.client import ApiError, RunboardClient

OUTCOME_WORDS = {
    'succeeded': 'succeeded',
    'failed': 'failed',
    'timed_out': 'timed out',
    'stopped': 'stopped',
    'crashed': 'crashed',
    'launch_failed': 'could not start',
    'expired': 'expired',
    'skipped': 'skipped',
    'cancelled': 'cancelled',
    'running': 'running',
    'queued': 'queued',
    'delayed': 'delayed',
}
OUTCOME_ORDER = tuple(OUTCOME_WORDS)
CLAIM_WORDS = {
    'done': 'done',
    'parked': 'parked: waits for a person',
    'released': 'released: ready again',
    'active': 'being worked on',
    'requeued': 'requeued',
    'discarded': 'discarded',
}
LOOP_STATE_WORDS = {
    'working': 'working on an issue now',
    'paused': 'paused after {failures} consecutive AFK failures: it waits for Reset',
    'cost_cap': "waiting: today's cost cap is reached (resumes at 00:00 UTC or on Reset)",
    'launch_failed': "waiting: its command could not start ({cause}); fix the project's command, then Reset",
    'auto_off': 'off: it launches nothing by itself',
    'global_cap': 'waiting: the server runs as many runs as it may',
    'no_ready_issue': 'on, with no ready issue left',
    'will_launch': 'on: its next sweep takes the next ready issue',
}


def money(value: float | None) -> str:
    return f'${value or 0:,.2f}'


def plural(count: int, word: str) -> str:
    return f'{count} {word}' if count == 1 else f'{count} {word}s'


BEFORE_WINDOW = 'started before this window'


def outcomes_text(summary: dict[str, Any]) -> str:
    """`5 AFK runs (1 started before this window): 1 succeeded, 3 failed, 1 stopped`, or `No AFK runs`."""
    runs = int(summary.get('runs') or 0)
    if not runs:
        return 'No AFK runs'
    counts = summary.get('outcomes') or {}
    parts = [f'{counts[o]} {OUTCOME_WORDS[o]}' for o in OUTCOME_ORDER if counts.get(o)]
    notes = [f'{summary["started_before_window"]} {BEFORE_WINDOW}'] if summary.get('started_before_window') else []
    notes += ['the newest 1000 shown'] if summary.get('truncated') else []
    more = f' ({"; ".join(notes)})' if notes else ''
    return f'{plural(runs, "AFK run")}{more}: {", ".join(parts)}'


def cost_text(summary: dict[str, Any]) -> str:
    """`$1.20 in this window · today $1.20 of a $1.00 daily cap (reached)` / `… · no daily cap`; the window's is what
    the runs that ended in it cost, `(+ $0.30 so far by runs under way)` what those not ended yet reported."""
    window = f'{money(summary.get("cost_usd"))} in this window'
    if summary.get('under_way_cost_usd'):
        window += f' (+ {money(summary["under_way_cost_usd"])} so far by runs under way)'
    cap = summary.get('cap_usd')
    if cap is None:
        return f'{window} · today {money(summary.get("today_usd"))} · no daily cap'
    reached = ' (reached)' if summary.get('capped') else ''
    return f'{window} · today {money(summary.get("today_usd"))} of a {money(cap)} daily cap{reached}'


def loop_state_text(summary: dict[str, Any]) -> str:
    """What the loop does now, and what ends a wait."""
    state = str(summary.get('loop_state') or '')
    cause = str(summary.get('launch_error') or '').removeprefix('launch_failed: ')
    said = LOOP_STATE_WORDS.get(state, state).format(failures=summary.get('consecutive_failures'), cause=cause)
    return f'Auto-loop now: {said}'


def event_text(event: dict[str, Any]) -> str:
    """One thing that happened to the loop, without its time (the caller writes it in its reader's zone)."""
    kind = event.get('kind')
    if kind == 'paused':
        return f'paused after {event.get("failures")} consecutive failures (run {event.get("run_id")})'
    if kind == 'cost_capped':
        return f'reached the daily cost cap ({money(event.get("spent_usd"))} spent that day)'
    if kind == 'reset':
        return f'reset by {event.get("by")}'
    if kind in ('auto_on', 'auto_off'):
        return f'auto-loop switched {"on" if kind == "auto_on" else "off"} by {event.get("by")}'
    return str(kind)


def cap_replay_text(summary: dict[str, Any]) -> str | None:
    """A line when the moments the cap was reached were replayed against today's cap (an earlier change of it was
    recorded without what it replaced); None when the cap in force at each moment was known."""
    if summary.get('cap_replay') != 'current_cap':
        return None
    return "When the cost cap was reached is replayed with today's cap: an earlier change of it is not known"


def outcome_word(outcome: str | None) -> str:
    return OUTCOME_WORDS.get(str(outcome), str(outcome))


def claim_text(issue: dict[str, Any]) -> str:
    """Where the issue stands now: `parked: waits for a person`, `done`, `-`."""
    claim = issue.get('claim')
    return CLAIM_WORDS.get(str(claim), str(claim)) if claim else '-'


def changes_text(issue: dict[str, Any]) -> str | None:
    """`PR #7 · 3 files +20 −4 on afk/5`, what is known of what the agent left; None for an issue with nothing."""
    parts = []
    pull = issue.get('pull_request')
    if pull:
        parts.append(f'PR #{pull["number"]}')
    diff = issue.get('diff')
    if diff:
        parts.append(f'{plural(int(diff["files"]), "file")} +{diff["additions"]} −{diff["deletions"]}')
    if not parts:
        return None
    return ' · '.join(parts) + f' on {issue.get("branch")}'


def pull_request_href(issue: dict[str, Any]) -> str | None:
    """Where the issue's `PR #7 …` line links: the pull request's forge address when it is an http(s) one, else
    nowhere (the address comes from the forge's answer, and a `javascript:` one is no link to follow)."""
    url = str((issue.get('pull_request') or {}).get('url') or '')
    return url if url.startswith(('https://', 'http://')) else None


def run_text(run: dict[str, Any]) -> str:
    """What one run came to, after its id: `failed (exit code 3) · $0.30 · started by alice`."""
    text = outcome_word(run.get('outcome'))
    reason = str(run.get('reason') or '')
    if reason.startswith(text):  # `stopped by alice` says its outcome itself
        text = reason
    elif reason:
        text += f' ({reason})'
    if run.get('cost_usd') is not None:
        text += f' · {money(run["cost_usd"])}'
    if run.get('by'):
        text += f' · started by {run["by"]}'
    if run.get('started_before_window'):
        text += f' · {BEFORE_WINDOW}'
    return text


def issue_details(issue: dict[str, Any]) -> list[str]:
    """The lines beside an issue's run ids: each run's outcome, why and cost when it had several, else only why its run
    ended as it did (its outcome is the issue's) and whether it started before the window; then what the agent left
    (`changes_text`)."""
    runs = issue.get('runs') or []
    if len(runs) > 1:
        lines = [run_text(run) for run in runs]
    else:
        lines = [str(r['reason']) for r in runs if r.get('reason')]
        lines += [BEFORE_WINDOW for r in runs if r.get('started_before_window')]
    changes = changes_text(issue)
    return [*lines, *([changes] if changes else [])]


def untried_text(summary: dict[str, Any]) -> str:
    """`Ready, not tried yet: #6 task 6, #7 …` / `No ready issue waits` / `… could not be read`."""
    untried = summary.get('untried')
    if untried is None:
        return 'Ready issues not tried yet: could not be read'
    if not untried:
        return 'No ready issue is left untried'
    return f'Ready, not tried yet ({len(untried)}): ' + ', '.join(f'#{i["number"]} {i["title"]}' for i in untried)


async def load(client: RunboardClient, project_id: str, since: str | None = None) -> tuple[dict | None, str | None]:
    """(the summary, None) or (None, why it could not be read)."""
    try:
        return await client.afk_summary(project_id, since=since), None
    except ApiError as exc:
        return None, str(exc)
