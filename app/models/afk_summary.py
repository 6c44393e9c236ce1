"""The AFK loop's summary since a moment (GET /projects/{id}/afk/summary, docs/afk.md "The summary"): what the loop
did for one project in a window, per issue, with its cost, its pauses and where it stands now."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlmodel import SQLModel

# what a run came to: its status, with a failure that launched nothing told apart (it counts for nothing)
RunOutcome = Literal[
    'succeeded',
    'failed',
    'timed_out',
    'stopped',
    'crashed',
    'launch_failed',
    'expired',
    'skipped',
    'cancelled',
    'running',
    'queued',
    'delayed',
]
# why the loop launches nothing right now (rules.closed_gate), or what it does
LoopState = Literal[
    'working', 'paused', 'cost_cap', 'launch_failed', 'auto_off', 'global_cap', 'no_ready_issue', 'will_launch'
]


class SummaryRun(SQLModel):
    id: str
    outcome: RunOutcome
    created_at: datetime
    finished_at: datetime | None = None
    cost_usd: float | None = None  # what its `::usage::` lines reported; None: nothing
    reason: str | None = None  # a stop's who or what, a launch failure's cause, the run's error
    exit_code: int | None = None
    by: str | None = None  # the person who started it by hand or retried it; None: the loop
    started_before_window: bool = False  # created before the window's start, ended in it (or not yet)


class SummaryPullRequest(SQLModel):
    number: int
    title: str | None = None
    url: str | None = None


class SummaryDiff(SQLModel):
    files: int
    additions: int
    deletions: int


class SummaryIssue(SQLModel):
    number: int
    title: str
    outcome: RunOutcome  # its last run's
    claim: str | None = None  # where the issue stands now: done, parked, released, active, requeued, discarded
    cause: str | None = None  # the claim's cause (why it was parked or released)
    cost_usd: float = 0.0
    branch: str
    pull_request: SummaryPullRequest | None = None  # as the run carries it (the review or the engine's probe found it)
    diff: SummaryDiff | None = None  # its last successful run's changes, where Runboard's git has its branch
    runs: list[SummaryRun]  # oldest first


class SummaryEvent(SQLModel):
    at: datetime
    kind: Literal['paused', 'cost_capped', 'reset', 'auto_on', 'auto_off']
    run_id: str | None = None  # paused: the failure that paused it
    failures: int | None = None  # paused: the consecutive AFK failures then
    spent_usd: float | None = None  # cost_capped: the day's AFK cost then
    by: str | None = None  # reset, auto on/off: who


class ReadyIssue(SQLModel):
    number: int
    title: str


class AfkSummary(SQLModel):
    project_id: str
    since: datetime
    until: datetime
    runs: int  # AFK runs that lived in the window: created in it, or before it and ended in it or not yet
    started_before_window: int = 0  # of them, those created before the window
    outcomes: dict[str, int]  # outcome -> runs
    issues: list[SummaryIssue]  # the issue with the newest run first
    cost_usd: float  # what the AFK runs that ended in the window cost, each run's whole cost (as a bill would)
    under_way_cost_usd: float = (
        0.0  # what the AFK runs not ended yet reported so far (billed in the window they end in)
    )
    today_usd: float  # since 00:00 UTC or the last Reset: what the daily cap compares
    cap_usd: float | None
    capped: bool  # today's cost reached the cap
    # the cap the events' cost_capped replay used: the one in force at each moment (from the audit log), or the
    # current one where an earlier change of it was recorded without what it replaced
    cap_replay: Literal['as_in_force', 'current_cap'] = 'as_in_force'
    events: list[SummaryEvent]  # oldest first
    loop_state: LoopState
    auto_enabled: bool
    paused: bool
    consecutive_failures: int
    launch_error: str | None = None
    untried: list[ReadyIssue] | None  # ready issues no run in the window worked on; None: the forge did not answer
    truncated: bool = False  # more runs than the summary reads: the oldest are left out
    problems: list[str] = []
