"""The AFK loop's summary since a moment (docs/afk.md, "The summary"): what an engineering lead reads in the morning
after leaving the loop running overnight. For one project and a window (the last 24 hours unless `since` says
otherwise): the AFK runs that lived in it (created in it, or before it and ended in it or not yet), grouped per issue
with each run's outcome, cost and why it ended; what the window cost (each run's whole cost in the window it ended in,
as a bill would) against the daily cap; when the loop paused (after N failures), reached its cost cap, was reset or
switched; where it stands now; and the ready issues no run in the window tried.

It reads what exists: the runs list's read (`runs.reads.list_runs`, with each run's usage), the issue claims, the cost
reads (`costs`), the audit log's Resets, switches and changes of the cap, and the review's git for the size of an
agent's changes. Nothing records the moment of a pause or of reaching the cap, so both are replayed from the runs'
ends and the usage reports by the pure functions below, with the rules the loop itself uses (`rules.settle_afk_run`,
`rules.is_cost_capped`) and the cap that was in force at each moment (`cap_at`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, not_, or_
from sqlmodel import Session, col, select

from app.core.errors import DomainError
from app.models import Project, Run, RunPublic, User, as_utc
from app.models.afk_summary import (
    AfkSummary,
    LoopState,
    ReadyIssue,
    RunOutcome,
    SummaryDiff,
    SummaryEvent,
    SummaryIssue,
    SummaryPullRequest,
    SummaryRun,
)
from app.services.afk import claims, costs, issues, review
from app.services.afk.rules import (
    AFK_PAUSE_THRESHOLD,
    LAUNCH_FAILED,
    CounterMove,
    closed_gate,
    cost_window_start,
    is_cost_capped,
    is_paused,
    settle_afk_run,
)
from app.services.identity import audit
from app.services.identity.accounts import Principal
from app.services.projects.visibility import get_visible
from app.services.repositories.access import RepositoryAccess
from app.services.repositories.issue_sources import afk_branch
from app.services.runs import reads
from app.services.runs import sql as run_sql
from app.services.runs import usage as run_usage
from app.services.runs.timing import window_start

MAX_RUNS = 1000  # read at most this many of the window's runs (the newest)
PAGE = 200
ENGINE_ERROR = 'engine error'  # a crash the engine caused around the command: as neutral as a launch failure
AUDITED = {'afk.reset': 'reset', 'afk.enabled': 'auto_on', 'afk.disabled': 'auto_off'}
CAP_FIELD = 'afk_cost_cap_usd_per_day'  # a change of it is a `project.updated` entry (projects/manage.py)


# ---------------------------------------------------------------- pure


def is_launch_failure(error: str | None) -> bool:
    """Did nothing of the agent's run (its command or checkout could not start, or the engine failed around it)?"""
    return bool(error) and (str(error).startswith(LAUNCH_FAILED) or str(error).startswith(ENGINE_ERROR))


def run_outcome(status: str, error: str | None) -> RunOutcome:
    """A run's status, with a failure that launched nothing told apart (it counts for nothing, the issue is ready
    again)."""
    if status == 'failed' and is_launch_failure(error):
        return 'launch_failed'
    return status  # type: ignore[return-value]  # every other status is an outcome of its own name


def run_reason(status: str, error: str | None, exit_code: int | None) -> str | None:
    """Why it ended as it did, in a line: who or what stopped it, what could not start, how it failed."""
    if status == 'succeeded':
        return None
    if error:
        return str(error).removeprefix(f'{LAUNCH_FAILED}: ')
    if status == 'failed' and exit_code is not None:
        return f'exit code {exit_code}'
    return None


def overlaps(created_at: datetime, finished_at: datetime | None, since: datetime, until: datetime) -> bool:
    """Did a run live in the window [since, until]: created by its end, and not ended before its start (it ended in
    the window, after it, or not yet)? A run that started at 21:55 and failed at 22:30 is in the window from 22:00."""
    return created_at <= until and (finished_at is None or finished_at >= since)


def window_cost(runs: Iterable[tuple[datetime | None, float]], since: datetime, until: datetime) -> tuple[float, float]:
    """(what the window cost, what runs not ended by its end spent so far), of (finished_at, cost) per run. A run's
    whole cost counts in the window it ended in, as a bill would: also what it spent before the window started, and
    none of it in a window it only began in. A run still under way is billed in none yet: its cost so far is said
    apart. (The daily cap is another count: it adds each report as it comes, `costs.today_against_cap`.)"""
    billed = under_way = 0.0
    for finished_at, cost in runs:
        if finished_at is None or finished_at > until:
            under_way += cost
        elif finished_at >= since:
            billed += cost
    return round(billed, 6), round(under_way, 6)


@dataclass(frozen=True)
class RunFacts:
    """What the summary needs of one AFK run (a row of the runs list)."""

    id: str
    issue_number: int
    issue_title: str
    status: str
    created_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    exit_code: int | None = None
    cost_usd: float | None = None
    by: str | None = None
    pr_number: int | None = None
    pr_title: str | None = None
    pr_url: str | None = None


def issue_outcomes(
    runs: Iterable[RunFacts],
    latest_claims: dict[int, dict],
    diffs: dict[str, SummaryDiff] | None = None,
    since: datetime | None = None,
) -> list[SummaryIssue]:
    """The window's runs per issue: each issue's runs oldest first (those created before `since` say so), its outcome
    (its last run's), where its claim stands now, its cost (what its runs reported, a run under way's so far), and the
    pull request and diff of its last run that has them. The issue whose last run is newest comes first. `diffs`: run
    id -> the size of its changes, where known."""
    diffs = diffs or {}
    grouped: dict[int, list[RunFacts]] = {}
    for run in sorted(runs, key=lambda r: (r.created_at, r.id)):
        grouped.setdefault(run.issue_number, []).append(run)
    outcomes = []
    for number, its_runs in grouped.items():
        last = its_runs[-1]
        claim = latest_claims.get(number) or {}
        with_pr = next((r for r in reversed(its_runs) if r.pr_number is not None), None)
        with_diff = next((r for r in reversed(its_runs) if r.id in diffs), None)
        outcomes.append(
            SummaryIssue(
                number=number,
                title=last.issue_title,
                outcome=run_outcome(last.status, last.error),
                claim=claim.get('state'),
                cause=claim.get('cause'),
                cost_usd=round(sum(r.cost_usd or 0.0 for r in its_runs), 6),
                branch=afk_branch(number),
                pull_request=SummaryPullRequest(number=with_pr.pr_number, title=with_pr.pr_title, url=with_pr.pr_url)
                if with_pr is not None and with_pr.pr_number is not None
                else None,
                diff=diffs[with_diff.id] if with_diff is not None else None,
                runs=[
                    SummaryRun(
                        id=r.id,
                        outcome=run_outcome(r.status, r.error),
                        created_at=r.created_at,
                        finished_at=r.finished_at,
                        cost_usd=r.cost_usd,
                        reason=run_reason(r.status, r.error, r.exit_code),
                        exit_code=r.exit_code,
                        by=r.by,
                        started_before_window=since is not None and r.created_at < since,
                    )
                    for r in its_runs
                ],
            )
        )
    outcomes.sort(key=lambda issue: (issue.runs[-1].created_at, issue.runs[-1].id), reverse=True)
    return outcomes


@dataclass(frozen=True)
class CounterStep:
    """Something that moved the failure counter: an AFK run's end (`rules.settle_afk_run`) or a person's Reset."""

    at: datetime
    move: CounterMove
    run_id: str | None = None  # None: a Reset


def counter_step(run_id: str, status: str, error: str | None, finished_at: datetime) -> CounterStep:
    return CounterStep(finished_at, settle_afk_run(status, launch_failed=is_launch_failure(error)).counter, run_id)


def pauses(steps: Iterable[CounterStep], since: datetime) -> list[SummaryEvent]:
    """When the loop paused: each time the counter, replayed from 0 over `steps`, reached the threshold; only those at
    or after `since`. Further failures while paused (hand-started runs) pause nothing new. Start the steps at least
    AFK_PAUSE_THRESHOLD counting ends before `since` (or at a Reset) and the replay agrees with the counter."""
    counter, found = 0, []
    for step in sorted(steps, key=lambda s: s.at):
        if step.move == 'reset':
            counter = 0
        elif step.move == 'add':
            counter += 1
            if counter == AFK_PAUSE_THRESHOLD and step.at >= since:
                found.append(SummaryEvent(at=step.at, kind='paused', run_id=step.run_id, failures=counter))
    return found


@dataclass(frozen=True)
class CapChange:
    """A change of the daily cap (the audit log's `project.updated`): what it became and, where the entry says so,
    what it was (`was_known` False: an entry written before Runboard recorded that)."""

    at: datetime
    cap_usd: float | None
    was_usd: float | None = None
    was_known: bool = True


def cap_changes(entries: Iterable[tuple[datetime, Mapping]]) -> list[CapChange]:
    """The changes of the cap among `project.updated` entries, (at, details) each, oldest first."""
    found = []
    for at, details in entries:
        changed = details.get('changed') or {}
        if CAP_FIELD not in changed:
            continue
        was = details.get('was') or {}
        found.append(CapChange(at, changed[CAP_FIELD], was.get(CAP_FIELD), CAP_FIELD in was))
    return sorted(found, key=lambda change: change.at)


def cap_at(changes: Sequence[CapChange], current: float | None, at: datetime) -> tuple[float | None, bool]:
    """(the daily cap in force at `at`, is it known?): the last change at or before `at` set it; before the first
    change it was what that change replaced, where its entry says; with no change since `at`, the current cap.
    `changes`: oldest first, all of them since a moment at or before `at`."""
    latest = None
    for change in changes:
        if change.at > at:
            break
        latest = change
    if latest is not None:
        return latest.cap_usd, True
    if not changes:
        return current, True
    first = changes[0]
    return (first.was_usd, True) if first.was_known else (current, False)


def cap_reached(
    usage: Iterable[tuple[datetime, float]],
    resets: Sequence[datetime],
    cap_usd: float | None,
    since: datetime,
    changes: Sequence[CapChange] = (),
) -> list[SummaryEvent]:
    """When the day's AFK cost reached the cap: the report that brought it there (or the change of the cap that put
    it at or below what the day had spent: the next sweep sees it), once per count (a UTC day, or from a Reset to the
    end of its day) and again after each change of the cap (a change clears the day's record), those at or after
    `since`. `usage`: (at, cost) of the AFK runs' reports from the start of `since`'s day; `resets`: the Resets,
    which restart the count; `cap_usd`: the cap now; `changes`: the cap's changes since that day's start (`cap_at`
    reads the cap in force at each moment from them)."""
    if cap_usd is None and not changes:
        return []
    ordered_resets = sorted(resets)
    moments = sorted(
        [*((at, 1, cost) for at, cost in usage), *((change.at, 0, 0.0) for change in changes)],
        key=lambda moment: (moment[0], moment[1]),  # a change before a report of the same instant
    )
    window, spent, reached, found = None, 0.0, False, []
    for at, is_report, cost in moments:
        last_reset = next((r for r in reversed(ordered_resets) if r <= at), None)
        start = cost_window_start(at, last_reset)
        if start != window:
            window, spent, reached = start, 0.0, False
        if is_report:
            spent += cost
        else:
            reached = False  # changing the cap clears the day's record: reaching it again is said again
        cap, _ = cap_at(changes, cap_usd, at)
        if not reached and is_cost_capped(cap_usd=cap, spent_usd=spent):
            reached = True
            if at >= since:
                found.append(SummaryEvent(at=at, kind='cost_capped', spent_usd=round(spent, 6)))
    return found


def cap_known(changes: Sequence[CapChange], moments: Iterable[datetime]) -> bool:
    """Is the cap in force known at each of these moments (else the replay used the current cap there)?"""
    return all(cap_at(changes, None, moment)[1] for moment in moments)


def loop_state(
    *,
    auto_enabled: bool,
    paused: bool,
    loop_run_in_flight: bool,
    under_global_cap: bool,
    launch_blocked: bool,
    cost_capped: bool,
    ready_issues: int | None,
) -> LoopState:
    """What the loop does now: working on an issue, or which gate keeps it from launching (`rules.closed_gate`, in
    the sweep's order), or whether its next sweep launches (`ready_issues` None: the forge cannot tell; said as
    will_launch, which the sweep finds out)."""
    gate = closed_gate(
        auto_enabled=auto_enabled,
        paused=paused,
        loop_run_in_flight=loop_run_in_flight,
        under_global_cap=under_global_cap,
        launch_blocked=launch_blocked,
        cost_capped=cost_capped,
    )
    if gate == 'in_flight':
        return 'working'
    if gate is not None:
        return gate
    return 'no_ready_issue' if ready_issues == 0 else 'will_launch'


# ---------------------------------------------------------------- I/O
def loop_summary(
    engine: Engine,
    repositories: RepositoryAccess,
    principal: Principal,
    project_id: str,
    *,
    since: str | None,
    now: datetime,
    global_run_cap: int,
) -> AfkSummary:
    with Session(engine) as session:
        project = get_visible(session, project_id, principal)  # 404 before anything is read
    start = window_start(since, now)
    listed, truncated = _window_runs(engine, principal, project_id, start)
    problems: list[str] = []
    day_start = cost_window_start(start, None)
    with Session(engine) as session:
        conn = session.connection()
        latest_claims = claims.latest_by_issue(conn, project_id)
        earlier = _ends_before(session, project_id, start)
        audit_since = min([day_start, *(step.at for step in earlier)])
        entries = audit.project_actions(session, project_id, tuple(AUDITED), since=audit_since)
        changes = cap_changes(
            (as_utc(e.at) or now, e.details or {})
            for e in audit.project_actions(session, project_id, ('project.updated',), since=day_start)
        )
        usage = costs.afk_usage_rows(conn, project_id, day_start)
        today, capped = costs.today_against_cap(conn, project, now)
        in_flight = run_sql.loop_run_in_flight(conn, project_id)
        under_global_cap = run_sql.count_active(conn) < global_run_cap
        try:
            ready = issues.ready_issues(session, project)
        except DomainError as exc:  # a forge that does not answer: the rest of the summary still holds
            problems.append(f'the ready issues could not be read: {exc.detail}')
            ready = None
    facts = [f for f in map(_facts, listed) if overlaps(f.created_at, f.finished_at, start, now)]
    resets = [as_utc(e.at) or now for e in entries if e.action == 'afk.reset']
    reports = [(as_utc(at) or now, float(cost)) for at, cost, *_ in usage]
    billed, under_way = window_cost(((f.finished_at, f.cost_usd or 0.0) for f in facts), start, now)
    steps = [*earlier, *(counter_step(f.id, f.status, f.error, f.finished_at) for f in facts if f.finished_at)]
    steps += [CounterStep(at, 'reset') for at in resets]
    events = [
        *pauses(steps, start),
        *cap_reached(reports, resets, project.afk_cost_cap_usd_per_day, start, changes),
        *(
            SummaryEvent(at=as_utc(e.at) or now, kind=AUDITED[e.action], by=e.actor_name)  # type: ignore[arg-type]
            for e in entries
            if (as_utc(e.at) or now) >= start
        ),
    ]
    events.sort(key=lambda event: event.at)
    tried = {f.issue_number for f in facts}
    paused = is_paused(project.consecutive_failures)
    return AfkSummary(
        project_id=project_id,
        since=start,
        until=now,
        runs=len(facts),
        started_before_window=sum(1 for f in facts if f.created_at < start),
        outcomes=dict(Counter(run_outcome(f.status, f.error) for f in facts)),
        issues=issue_outcomes(facts, latest_claims, _diffs(listed, project, repositories), since=start),
        cost_usd=billed,
        under_way_cost_usd=under_way,
        today_usd=today,
        cap_usd=project.afk_cost_cap_usd_per_day,
        capped=capped,
        cap_replay='as_in_force' if cap_known(changes, (at for at, _ in reports)) else 'current_cap',
        events=events,
        loop_state=loop_state(
            auto_enabled=project.auto_enabled,
            paused=paused,
            loop_run_in_flight=in_flight,
            under_global_cap=under_global_cap,
            launch_blocked=project.launch_error is not None,
            cost_capped=capped,
            ready_issues=None if ready is None else len(ready),
        ),
        auto_enabled=project.auto_enabled,
        paused=paused,
        consecutive_failures=project.consecutive_failures,
        launch_error=project.launch_error,
        untried=None
        if ready is None
        else [ReadyIssue(number=i.number, title=i.title) for i in ready if i.number not in tried],
        truncated=truncated,
        problems=problems,
    )


def _window_runs(
    engine: Engine, principal: Principal, project_id: str, start: datetime
) -> tuple[list[RunPublic], bool]:
    """The project's AFK runs that lived since `start`, newest first, with their usage: those created since then as
    the runs list reads them, then those created before it that had not ended by then (`_runs_across`); at most
    MAX_RUNS, and whether there were more."""
    found: list[RunPublic] = []
    cursor = None
    while len(found) < MAX_RUNS:
        page, cursor = reads.list_runs(
            engine, principal, project=project_id, kind='auto', since=start.isoformat(), cursor=cursor, limit=PAGE
        )
        found += page
        if cursor is None:
            across, more = _runs_across(engine, project_id, start, limit=MAX_RUNS - len(found))
            return found + across, more
    return found[:MAX_RUNS], True


def _runs_across(engine: Engine, project_id: str, start: datetime, *, limit: int) -> tuple[list[RunPublic], bool]:
    """The project's AFK runs created before `start` that had not ended by then (they ended since, or not yet):
    newest first, at most `limit`, and whether there were more. The caller has checked that the project is visible.
    Read by their end where the planner knows its tables (PostgreSQL: ix_run_project_finished), not the project's
    whole history."""
    with Session(engine) as session:
        rows = session.exec(
            select(Run, col(User.name))
            .outerjoin(User, col(User.id) == col(Run.user_id))
            .where(
                col(Run.project_id) == project_id,
                col(Run.kind) == 'auto',
                col(Run.created_at) < start,
                or_(col(Run.finished_at).is_(None), col(Run.finished_at) >= start),
            )
            .order_by(col(Run.created_at).desc(), col(Run.id).desc())
            .limit(limit + 1)
        ).all()
        items = [reads.public(run, name) for run, name in rows[:limit]]
        run_usage.annotate(session.connection(), items)
    return items, len(rows) > limit


def _ends_before(session: Session, project_id: str, start: datetime) -> list[CounterStep]:
    """The last AFK_PAUSE_THRESHOLD ends before `start` that moved the counter: enough to replay whether it was
    paused then (that many failures in a row pause it; a success or a Reset among them starts it from 0)."""
    rows = session.exec(
        select(col(Run.id), col(Run.status), col(Run.error), col(Run.finished_at))
        .where(
            col(Run.project_id) == project_id,
            col(Run.kind) == 'auto',
            col(Run.finished_at) < start,
            col(Run.status).in_(('succeeded', 'failed', 'timed_out')),
            or_(col(Run.error).is_(None), not_(col(Run.error).startswith(LAUNCH_FAILED))),
        )
        .order_by(col(Run.finished_at).desc())
        .limit(AFK_PAUSE_THRESHOLD)
    ).all()
    return [counter_step(run_id, status, error, as_utc(at) or start) for run_id, status, error, at in rows]


def _facts(run: RunPublic) -> RunFacts:
    return RunFacts(
        id=run.id,
        issue_number=int(run.issue_number or 0),
        issue_title=run.issue_title or '',
        status=run.status,
        created_at=run.created_at,
        finished_at=run.finished_at,
        error=run.error,
        exit_code=run.exit_code,
        cost_usd=run.usage.cost_usd if run.usage else None,
        by=run.user_name,
        pr_number=run.pr_number,
        pr_title=run.pr_title,
        pr_url=run.pr_url,
    )


def _diffs(runs: list[RunPublic], project: Project, repositories: RepositoryAccess) -> dict[str, SummaryDiff]:
    """The size of each issue's last successful run's changes, where Runboard's git has its branch (`review`)."""
    sizes: dict[str, SummaryDiff] = {}
    seen: set[int | None] = set()
    for run in runs:  # newest first: one git diff per issue
        if run.status != 'succeeded' or run.issue_number in seen:
            continue
        seen.add(run.issue_number)
        diff = review.diff_totals(run, project, repositories)
        if diff is not None:
            sizes[run.id] = SummaryDiff(files=len(diff.files), additions=diff.additions, deletions=diff.deletions)
    return sizes
