"""Project cards state for one tab: projects with their running count, last run and, when paused,
the causes of the last failures; every visible project (the dashboard's cards) or one (the project page's AFK
controls). Talks to app.client only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.client import ApiError, RunboardClient
from app.core.ids import RUN_PREFIX, time_prefix
from app.models.vocabulary import RunStatus
from app.state.run_timing import clock, parse, until_text
from app.state.text import shown

log = logging.getLogger(__name__)
# a paused card's causes: the AFK runs that moved its counter (afk/rules.py settle_afk_run; a crash is neutral)
PAUSE_CAUSES = {'kind': 'auto', 'status': 'failed,timed_out'}
# a card's "last run" is one that was asked to run now or has run: a delayed one lies ahead (and lists on top of the
# runs list, app/core/ids.py), so the furthest-off of them would hide what last happened
LAST_RUN_STATUSES = ','.join(s.value for s in RunStatus if s is not RunStatus.delayed)
CAUSES_SHOWN = 3
# read a few more than shown: a launch failure is failed too, but never counted towards the pause, so it is left out
CAUSES_READ = 10
LAST_RUN_CANDIDATES = 5  # newest runs read for a card's last run (last_run)


@dataclass
class CardView:
    project: dict
    running: int = 0
    last_run: dict | None = None
    failure_causes: list[str] = field(default_factory=list)
    running_issues: list[int] = field(default_factory=list)  # the issues its running AFK runs work on

    @property
    def id(self) -> str:
        return self.project['id']

    @property
    def paused(self) -> bool:
        return bool(self.project.get('paused'))

    @property
    def failures(self) -> int:
        return int(self.project.get('consecutive_failures') or 0)

    @property
    def ready(self) -> int | None:
        return self.project.get('ready_count')

    @property
    def launch_blocked(self) -> str | None:
        """Why the loop launches nothing, in words for anyone (held_banner words it for the viewer)."""
        return launch_blocked_text(self.project, may_reset=False)

    @property
    def cost_capped(self) -> str | None:
        return cost_capped_text(self.project, datetime.now(UTC), may_reset=False)

    @property
    def status(self) -> str:
        """What the card face says first, as a word for its colour (loop_status says it)."""
        return loop_status(self).key


@dataclass(frozen=True)
class LoopStatus:
    """A card's status badge: `key` (paused | running | queued | waiting | idle) picks its colour; `text` says it, and
    `next_at`, when known, follows it as `; next launch in 40 s` (`said`; `next_word` sweep when what it launches on
    is not known), counted down live."""

    key: str
    text: str
    next_at: datetime | None = None
    next_word: str = 'launch'

    @property
    def next_prefix(self) -> str:
        return f'{self.text}; next {self.next_word} '

    def said(self, now: datetime) -> str:
        return self.text if self.next_at is None else self.next_prefix + until_text(self.next_at, now)

    @property
    def title(self) -> str | None:
        """The exact moment behind `in 40 s` (the page's tooltips name moments in UTC)."""
        return None if self.next_at is None else f"The loop's next sweep: {clock(self.next_at)}"


def ready_text(count: int) -> str:
    return f'{count} ready issue' + ('' if count == 1 else 's')


def loop_status(view: CardView) -> LoopStatus:
    """Pure: what a project's runs and AFK loop do now, as its card and page say it first. A loop held by its failures'
    pause or the daily cost cap needs a person and is said first; then its runs; then what the loop does next: its
    next sweep launches on the ready issues, or nothing (auto off, no ready issue, the launch failure that holds it,
    the server's global run cap). `Idle` is said only when nothing waits for the loop."""
    project = view.project
    auto = bool(project.get('auto_enabled'))
    if auto and view.paused:
        return LoopStatus('paused', f'Paused after {view.failures} failure' + ('' if view.failures == 1 else 's'))
    if auto and view.cost_capped:
        return LoopStatus('paused', 'Paused: daily cost cap reached')
    if view.running:
        issues = ', '.join(f'#{n}' for n in view.running_issues)
        return LoopStatus('running', f'Running {issues}' if issues else 'Running')
    if project.get('active_runs'):
        return LoopStatus('queued', 'Queued')
    ready = view.ready
    if not auto:
        return LoopStatus('idle', 'Idle: auto is off' + (f', {ready_text(ready)}' if ready else ''))
    if view.launch_blocked:
        return LoopStatus('waiting', 'Waiting: its command could not start')
    if ready == 0:
        return LoopStatus('idle', 'Idle: no ready issues')
    unknown = 'ready issues unknown (the forge did not answer)'
    waiting = 'Waiting: ' + (ready_text(ready) if ready is not None else unknown)
    if project.get('at_global_run_cap'):
        return LoopStatus('waiting', f'{waiting}; the server runs as many runs as it may')
    next_at = parse(project.get('afk_next_sweep_at'))
    return LoopStatus('waiting', waiting, next_at=next_at, next_word='launch' if ready is not None else 'sweep')


@dataclass(frozen=True)
class CardMenu:
    """Which of a card's ⋯ menu items show. Auto on/off and Reset are operators' (the API refuses a builder's with
    403): a builder's menu leaves them out, as other pages leave out what would be refused."""

    auto: bool  # "Auto AFK runs: On/Off"
    paused_line: bool  # "Auto paused · N fails" (and the separator above it): a fact, for everyone
    reset: bool


def card_menu(view: CardView, *, operator: bool) -> CardMenu:
    """Pure: the menu of one card for this viewer. Reset shows on a paused card or one whose loop is held (the
    daily cost cap, a launch failure)."""
    held = view.paused or view.cost_capped is not None or view.launch_blocked is not None
    return CardMenu(auto=operator, paused_line=view.paused, reset=operator and held)


def reset_question(view: CardView, now: datetime) -> str:
    """Pure: what Reset's confirmation asks: Reset lets a held loop launch AFK runs again, so it says on what (with auto
    on: the ready issues; with auto off: nothing until Auto is switched on), and what it clears (the failure count, the
    day's cost against the cap, the launch failure)."""
    name = shown(view.project.get('name') or view.id)
    if not view.project.get('auto_enabled'):
        asked = f'Reset the AFK loop for {name}? Auto is off: it launches nothing by itself until Auto is switched on'
    elif view.ready is None:
        asked = f'Resume the AFK loop for {name}? It will start on its ready issues (the forge did not say how many)'
    elif view.ready == 0:
        asked = f'Resume the AFK loop for {name}? No issue is ready now: it starts on the next one that is'
    else:
        asked = f'Resume the AFK loop for {name}? It will start on the {ready_text(view.ready)}'
    cleared = ['the failure count goes back to 0'] if view.failures else []
    if cost_capped_text(view.project, now, may_reset=True):
        cleared.append("today's AFK cost counts against the cap from now on")
    if view.launch_blocked:
        cleared.append('its last launch failure is forgotten')
    return '; '.join([asked, *cleared]) + '.'


def shows_auto_chip(view: CardView) -> bool:
    """Pure: the green "Auto" (or grey "Auto off") chip shows unless the loop is on and held (its failures' pause
    or the daily cost cap): "Auto paused" says both then, never beside a green chip."""
    held = view.paused or view.cost_capped is not None
    return not (bool(view.project.get('auto_enabled')) and held)


def who_resets_text(view: CardView, *, operator: bool) -> str | None:
    """Pure: under a failure pause's causes, who can end it, for a viewer without Reset (None: they have it)."""
    return 'It resumes when an operator resets it.' if view.paused and not operator else None


def awaiting_approval_text(project: dict) -> str | None:
    """The card's line for the runs an operator has to approve (None: none waits)."""
    count = int(project.get('awaiting_approval') or 0)
    if not count:
        return None
    return f"{count} run{'' if count == 1 else 's'} {'waits' if count == 1 else 'wait'} for an operator's approval"


def cost_capped_text(project: dict, now: datetime, *, may_reset: bool) -> str | None:
    """Pure: the card's loud line while the daily AFK cost cap holds the loop (the server records the UTC day it
    was reached in `afk_cost_capped_on`; the next UTC day or a Reset ends it), else None. `may_reset`: the viewer
    may Reset (app.core.permissions); anyone else is told who can."""
    cap = project.get('afk_cost_cap_usd_per_day')
    if cap is None or project.get('afk_cost_capped_on') != now.astimezone(UTC).date().isoformat():
        return None
    reset = 'on Reset' if may_reset else 'when an operator resets it'
    return f'Auto paused · cost cap ${float(cap):,.2f} reached today, resumes at 00:00 UTC or {reset}'


def launch_blocked_text(project: dict, *, may_reset: bool) -> str | None:
    """Pure: why the auto-loop launches nothing although issues are ready, when an AFK command could not
    start (else None). A launch failure is not counted; it holds the loop until the project changes. `may_reset`:
    the viewer may Reset (app.core.permissions); anyone else is told who can."""
    cause = project.get('launch_error')
    if not cause:
        return None
    cause = cause.removeprefix('launch_failed: ')
    waiting = 'Auto-loop waiting' if project.get('auto_enabled') else 'AFK launch failed'
    advice = (
        "fix the project's command, then Reset"
        if may_reset
        else "once the project's command is fixed, an operator can reset it"
    )
    return f'{waiting}: {cause}. Nothing was counted; {advice}.'


def held_banner(view: CardView, now: datetime, *, may_reset: bool) -> str | None:
    """Pure: the card's loud line while its loop is held, worded for the viewer: the daily cost cap first (it is the
    louder), else a launch failure; None when neither holds it."""
    capped = cost_capped_text(view.project, now, may_reset=may_reset)
    return capped or launch_blocked_text(view.project, may_reset=may_reset)


def failure_cause(run: dict) -> str:
    """Pure: one line saying why a run failed."""
    status = run['status'].replace('_', ' ')
    reason = run.get('error') or (f'exit code {run["exit_code"]}' if run.get('exit_code') is not None else '')
    subject = (
        f'#{run["issue_number"]} {run.get("issue_title") or ""}'.strip()
        if run.get('issue_number')
        else run.get('branch_name', '')
    )
    return f'{subject}: {status}' + (f' ({reason})' if reason else '')


NEUTRAL_FAILURES = ('launch_failed', 'engine error')  # as services/afk/summary.py is_launch_failure reads them


def pause_causes(newest_failed: list[dict]) -> list[str]:
    """Pure: the lines a paused card lists, from the project's newest failed or timed-out AFK runs: the ones that
    counted towards the pause. A run whose command or checkout could not start (`launch_failed: ...`), or that the
    engine failed around (`engine error: ...`), is failed too but neutral for the counter (docs/afk.md; the engine's
    launch_failed), so it is not one of its causes."""
    counted = [run for run in newest_failed if not (run.get('error') or '').startswith(NEUTRAL_FAILURES)]
    return [failure_cause(run) for run in counted[:CAUSES_SHOWN]]


def last_run(newest: list[dict], now: datetime) -> dict | None:
    """Pure: a card's last run, of the project's newest runs (newest first, by id): the newest that was due by now.
    A delayed run takes its due time as its id (lists show it where it will start); one cancelled before it was due
    keeps it, and must not stand as the last run over the runs that ran after it."""
    due = RUN_PREFIX + time_prefix(now)
    return next((run for run in newest if run['id'][: len(due)] <= due), newest[0] if newest else None)


class ProjectsStore:
    def __init__(self, client: RunboardClient, *, project_id: str | None = None) -> None:
        """project_id: read that project only (its page), not every project the person sees."""
        self.client = client
        self.project_id = project_id
        self.cards: list[CardView] = []
        self.error: str | None = None
        self.listeners: list[Callable[[], None]] = []
        self._dirty = False
        self._refreshing = False

    async def load(self) -> None:
        try:
            projects = await self._projects()
            running = (await self.client.list_runs(project=self.project_id, status='running', limit=500))['items']
            last_runs = await asyncio.gather(
                *(
                    self.client.list_runs(project=p['id'], status=LAST_RUN_STATUSES, limit=LAST_RUN_CANDIDATES)
                    for p in projects
                )
            )
            failures = await asyncio.gather(
                *(
                    self.client.list_runs(project=p['id'], **PAUSE_CAUSES, limit=CAUSES_READ)
                    if p.get('paused')
                    else _none()
                    for p in projects
                )
            )
        except ApiError as exc:
            self.error = f'Could not load projects: {exc}'
            self._notify()
            return
        self.error = None
        counts: dict[str, int] = {}
        issues: dict[str, list[int]] = {}
        for run in running:
            counts[run['project_id']] = counts.get(run['project_id'], 0) + 1
            if run.get('kind') == 'auto' and run.get('issue_number') is not None:
                issues.setdefault(run['project_id'], []).append(int(run['issue_number']))
        self.cards = [
            CardView(
                project=p,
                running=counts.get(p['id'], 0),
                last_run=last_run(last['items'], datetime.now(UTC)),
                failure_causes=pause_causes((failed or {}).get('items', [])),
                running_issues=sorted(issues.get(p['id'], [])),
            )
            for p, last, failed in zip(projects, last_runs, failures, strict=True)
        ]
        self._notify()

    async def _projects(self) -> list[dict]:
        if self.project_id is None:
            return await self.client.list_projects()
        return [await self.client.get_project(self.project_id)]

    async def refresh(self) -> None:
        """Coalesce bursts of change events into as few reloads as needed (always a final one)."""
        self._dirty = True
        if self._refreshing:
            return
        self._refreshing = True
        try:
            while self._dirty:
                self._dirty = False
                await self.load()
        finally:
            self._refreshing = False

    def card(self, project_id: str) -> CardView | None:
        return next((c for c in self.cards if c.id == project_id), None)

    def _notify(self) -> None:
        for listener in list(self.listeners):
            try:
                listener()
            except Exception:  # noqa: BLE001 - one broken view must not stop live updates of the others
                log.exception('project cards listener failed')

    # -- actions; each returns a message for the person (or raises ApiError)
    async def start_afk(self, project_id: str) -> str:
        run = await self.client.start_afk(project_id)
        await self.refresh()
        return f'AFK run {run["id"]} started on #{run["issue_number"]} {run.get("issue_title") or ""}'.strip()

    async def set_auto(self, project_id: str, enabled: bool) -> str:
        await self.client.set_auto(project_id, enabled)
        await self.refresh()
        return f'Auto AFK runs {"on" if enabled else "off"} for {project_id}'

    async def reset(self, project_id: str) -> str:
        await self.client.reset_afk(project_id)
        await self.refresh()
        return f'{project_id} re-armed: failure counter reset'

    async def form_token(self, project_id: str) -> str | None:
        try:
            return await self.client.afk_form_token(project_id)
        except ApiError:
            return None  # not an operator, or the server cannot mint one: no plain form then

    async def parked(self, project_id: str) -> list[dict]:
        return await self.client.parked_issues(project_id)

    async def requeue(self, project_id: str, number: int) -> None:
        await self.client.requeue_issue(project_id, number)
        await self.refresh()

    async def discard(self, project_id: str, number: int) -> None:
        await self.client.discard_issue(project_id, number)
        await self.refresh()


async def _none() -> None:
    return None
