"""What a matrix batch looks like to a person (pure, no NiceGUI): the grid of its children (rows: depth levels,
columns: frameworks), each cell's words, the headline, how a live run event changes it, whether the
person may send the batch again to admit its missing children, and which runs "Re-run failed" retries."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from app.models.vocabulary import ACTIVE_STATUSES, RETRYABLE_STATUSES, TERMINAL_STATUSES, awaits_approval

MAX_COMBINATIONS = 50  # the server's cap on one batch (app/models/batches.py)
OUTCOME_WORDS = {'refused': 'refused', 'pending': 'not tried yet'}


@dataclass(frozen=True)
class Cell:
    depth_level: str
    target_framework: str
    outcome: str  # admitted | refused | pending
    status: str  # the run's status, else the outcome
    run_id: str | None = None
    reason: str = ''  # refused: the problem in words
    error: str | None = None  # refused: the problem's machine code
    retry_of: str | None = None  # the cell's run is a retry (Re-run failed): of this run
    awaiting_approval: bool = False  # the cell's run waits for an operator's approval (services/runs/approvals.py)

    @property
    def name(self) -> str:
        return f'{self.depth_level}/{self.target_framework}'

    @property
    def short_id(self) -> str:
        """What the cell shows of its run's id."""
        return (self.run_id or '')[-8:]

    @property
    def label(self) -> str:
        """The cell's accessible name: which combination, and what became of it. A run's cell is a link: its name
        starts with what it shows (the status and the id's end: WCAG 2.5.3, label in name)."""
        if self.run_id:
            status = self.status.replace('_', ' ')
            shown = f'{status} {self.short_id}' + (' retry' if self.retry_of else '')
            shown += ' awaits approval' if self.awaiting_approval else ''
            name = f'{shown}: {self.depth_level} × {self.target_framework}, run {self.run_id}'
            return name + (f', a retry of {self.retry_of}' if self.retry_of else '')
        words = OUTCOME_WORDS.get(self.outcome, self.outcome)
        return f'{self.depth_level} × {self.target_framework}: {words}' + (f'. {self.reason}' if self.reason else '')


@dataclass(frozen=True)
class Grid:
    depths: list[str]
    frameworks: list[str]
    cells: dict[tuple[str, str], Cell]


def cell_of(child: dict[str, Any]) -> Cell:
    run, problem = child.get('run'), child.get('problem')
    reason = ''
    if problem:
        wait = problem.get('retry_after')
        reason = problem['detail'] + (f' (retry in {wait} s)' if wait and 'Retry in' not in problem['detail'] else '')
    return Cell(
        child['depth_level'],
        child['target_framework'],
        child['outcome'],
        run['status'] if run else child['outcome'],
        run['id'] if run else None,
        reason,
        problem['error'] if problem else None,
        run.get('retry_of') if run else None,
        run is not None and awaits_approval(run),
    )


def grid_of(batch: dict[str, Any]) -> Grid:
    cells = {(c['depth_level'], c['target_framework']): cell_of(c) for c in batch['children']}
    return Grid(list(batch['matrix']['depth_level']), list(batch['matrix']['target_framework']), cells)


def headline(batch: dict[str, Any]) -> str:
    """e.g. '6 runs · 4 admitted · 2 refused — 3 running, 1 succeeded'."""
    counts = batch['summary']
    parts = [f'{counts["total"]} run{"" if counts["total"] == 1 else "s"}', f'{counts["admitted"]} admitted']
    if counts['refused']:
        parts.append(f'{counts["refused"]} refused')
    if counts['pending']:
        parts.append(f'{counts["pending"]} not tried yet')
    runs = ', '.join(f'{n} {status.replace("_", " ")}' for status, n in batch['runs_by_status'].items())
    return ' · '.join(parts) + (f' — {runs}' if runs else '')


Effect = Literal['update', 'reload'] | None


def event_effect(batch: dict[str, Any], event: dict[str, Any]) -> Effect:
    """A live change event: 'update' (a child's run has a new status), 'reload' (a run of this batch the page
    does not know yet: a resend or a retry admitted it), or None (nothing new of this batch)."""
    if event.get('type') != 'run':
        return None
    for child in batch['children']:
        run = child.get('run')
        if run and run['id'] == event.get('id'):
            status = event.get('status')
            # an event older than a read the page has (the run ended there) is passed over: a run never starts again
            stale = run['status'] in TERMINAL_STATUSES and status not in TERMINAL_STATUSES
            return 'update' if status and status != run['status'] and not stale else None
    return 'reload' if event.get('batch_id') == batch['id'] else None


def with_run_status(batch: dict[str, Any], run_id: str, status: str) -> dict[str, Any]:
    """The batch with one child's run in its new status, and the counts by status to match."""
    children = []
    for child in batch['children']:
        run = child.get('run')
        if run and run['id'] == run_id:
            child = {**child, 'run': {**run, 'status': status}}
        children.append(child)
    by_status: dict[str, int] = {}
    for child in children:
        if child.get('run'):
            by_status[child['run']['status']] = by_status.get(child['run']['status'], 0) + 1
    return {**batch, 'children': children, 'runs_by_status': dict(sorted(by_status.items()))}


def with_ends_kept(shown: dict[str, Any], read: dict[str, Any]) -> dict[str, Any]:
    """A fresh read of the batch, except that a run the page already shows as ended stays ended: a read the server
    answered before a run's end can arrive after the end's event, and a run never starts again (a retry is a new
    run). The page reads once more after such a change, for what else the read may have missed."""
    ended = {
        child['run']['id']: child['run']['status']
        for child in shown['children']
        if child.get('run') and child['run']['status'] in TERMINAL_STATUSES
    }
    merged = read
    for child in read['children']:
        run = child.get('run')
        if run and run['id'] in ended and run['status'] not in TERMINAL_STATUSES:
            merged = with_run_status(merged, run['id'], ended[run['id']])
    return merged


def rerun_targets(batch: dict[str, Any]) -> list[str]:
    """What "Re-run failed" retries: each cell's latest run that ended without succeeding (failed, timed out,
    crashed, stopped, cancelled...: what GitHub's "re-run failed jobs" takes), in the grid's order."""
    return [
        child['run']['id']
        for child in batch['children']
        if child.get('run') and child['run']['status'] in RETRYABLE_STATUSES
    ]


def approve_targets(batch: dict[str, Any]) -> list[str]:
    """What "Approve all" lets go (GitHub's "Review deployments"): each cell's run waiting for an operator."""
    return [child['run']['id'] for child in batch['children'] if child.get('run') and awaits_approval(child['run'])]


def stop_targets(batch: dict[str, Any]) -> list[str]:
    """What "Stop all" stops (GitHub's "cancel workflow"): each cell's run that is still queued or running."""
    return [
        child['run']['id']
        for child in batch['children']
        if child.get('run') and child['run']['status'] in ACTIVE_STATUSES
    ]


def batch_action_key(batch_id: str, action: str, run_ids: list[str]) -> str:
    """One idempotency key per action on a set of runs: a second press (or a second tab) replays the first one's
    answer instead of acting twice; once those runs have moved on, a new set makes a new key."""
    digest = hashlib.sha256(','.join(sorted(run_ids)).encode()).hexdigest()[:24]
    return f'{batch_id}-{action}-{digest}'


def may_resend(batch: dict[str, Any], me: dict[str, Any] | None) -> bool:
    """Only its creator can send a batch again (the key is theirs); only a batch with children still missing."""
    return bool(me) and (me or {}).get('user_id') == batch['user_id'] and batch['status'] != 'admitted'


def matrix_block_reason(depths: list[str], frameworks: list[str], cap: int = MAX_COMBINATIONS) -> str | None:
    """Why the Run form's matrix cannot be submitted yet (None: it can)."""
    if not depths:
        return 'Pick at least one depth level for the matrix.'
    if not frameworks:
        return 'Pick at least one target framework for the matrix.'
    if len(depths) * len(frameworks) > cap:
        return f'{len(depths) * len(frameworks)} combinations: a matrix makes at most {cap} runs.'
    return None


def matrix_count_text(depths: list[str], frameworks: list[str]) -> str:
    count = len(depths) * len(frameworks)
    return f'{len(depths)} × {len(frameworks)} = {count} run{"" if count == 1 else "s"}'
