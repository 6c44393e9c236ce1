"""A test's failures across the runs of a branch (pure `mark_failures`, and the reads that feed it):

- **flaky**: on the run's commit, another run of the branch passed it (it both passed and failed on one commit);
- **still failing**: the previous run of the branch that ran it failed it too; `since` is the first run of the
  streak of failures going back;
- **new**: the previous run of the branch that ran it passed (or skipped) it, or no earlier run ran it.

"Previous" means runs with test results only, older by id (ids sort by time); a run that did not run the test
(another depth level) is looked through."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, text

FAILED = ('failed', 'error')
HISTORY_RUNS = 100  # how far back a branch's history is read


@dataclass(frozen=True)
class PastRun:
    run_id: str
    commit_sha: str | None
    statuses: dict[str, str]  # test_id -> status, for the tests asked about


@dataclass(frozen=True)
class Mark:
    mark: str  # new | still_failing | flaky
    since_run_id: str | None = None  # still_failing: the streak's first run; flaky: the run that passed it


def mark_failures(
    *, run_id: str, commit_sha: str | None, failing: Iterable[str], history: Sequence[PastRun]
) -> dict[str, Mark]:
    """Pure. `history`: the branch's other runs with test results, any order (later runs count for flakiness)."""
    same_commit = [p for p in history if commit_sha and p.commit_sha == commit_sha and p.run_id != run_id]
    earlier = sorted((p for p in history if p.run_id < run_id), key=lambda p: p.run_id, reverse=True)
    marks: dict[str, Mark] = {}
    for test_id in failing:
        passed_there = next((p.run_id for p in same_commit if p.statuses.get(test_id) == 'passed'), None)
        if passed_there:
            marks[test_id] = Mark('flaky', passed_there)
            continue
        since = None
        for past in earlier:
            status = past.statuses.get(test_id)
            if status is None:
                continue  # that run did not run it
            if status in FAILED:
                since = past.run_id
                continue
            break  # passed or skipped: the streak starts after it
        marks[test_id] = Mark('still_failing', since) if since else Mark('new')
    return marks


HISTORY_RUNS_SQL = (
    'SELECT run_id, commit_sha FROM testreport WHERE project_id = :p AND branch_name = :b AND run_id != :r '
    'AND (run_id < :r OR commit_sha = :c) ORDER BY run_id DESC LIMIT :n'
)


def read_history(
    conn: Connection, *, project_id: str, branch: str, run_id: str, commit_sha: str | None, test_ids: list[str]
) -> list[PastRun]:
    """The branch's other runs with results (the last HISTORY_RUNS older ones, and any on the same commit), with
    the statuses of `test_ids` in each."""
    if not test_ids:
        return []
    runs = conn.execute(
        text(HISTORY_RUNS_SQL),
        {'p': project_id, 'b': branch, 'r': run_id, 'c': commit_sha or '', 'n': HISTORY_RUNS},
    ).all()
    if not runs:
        return []
    statuses: dict[str, dict[str, str]] = {r[0]: {} for r in runs}
    query = text('SELECT run_id, test_id, status FROM testcase WHERE run_id IN :runs AND test_id IN :tests').bindparams(
        bindparam('runs', expanding=True), bindparam('tests', expanding=True)
    )
    run_ids = list(statuses)
    for start in range(0, len(test_ids), 500):
        chunk = test_ids[start : start + 500]
        for past_run, test_id, status in conn.execute(query, {'runs': run_ids, 'tests': chunk}):
            # a test run twice in one run (two reports): a failure wins
            if statuses[past_run].get(test_id) not in FAILED:
                statuses[past_run][test_id] = status
    return [PastRun(r[0], r[1], statuses[r[0]]) for r in runs]
