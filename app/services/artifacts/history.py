"""A test's results across runs (pure `mark_failures` and `fixed_tests`, and the reads that feed them). A run is
compared with runs at its own depth level and framework only (the same tests, as GitLab compares a job with the same
job): a test that fails at one depth and passes at another is not flaky, it depends on the depth.

- **flaky**: on the run's commit, another run of the branch passed it (it both passed and failed on one commit);
- **still failing**: the previous run of the branch that ran it failed it too; `since` is the first run of the
  streak of failures going back;
- **failing on the base branch**: no earlier run of the branch ran it, and the base branch's last run before this one
  that ran it failed it (a feature branch's first run does not take the blame for what main already fails);
- **new**: otherwise: the previous run that ran it passed (or skipped) it, or an earlier run with results (of the
  branch or of the base branch) did not have it;
- **no mark**: no earlier run of the branch or of the base branch has results (a project's first run at a depth level
  and framework): nothing says whether it ever passed, so it is not called new;
- **fixed** (a test that passed): the run it is compared with failed it. As GitLab compares a pipeline with one
  other, that is one run: the branch's previous run with results at the same depth level and framework (the same
  tests), else the base branch's (`comparison_run`).

"Previous" means runs with test results only, older by id (ids sort by time); a run that did not run the test
(another depth level) is looked through."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

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
    mark: str  # new | still_failing | flaky | failing_on_base
    since_run_id: str | None = None  # still_failing: the streak's first run; flaky: the run that passed it;
    # failing_on_base: the base branch's run that failed it


def _newest_first(history: Iterable[PastRun], run_id: str) -> list[PastRun]:
    return sorted((p for p in history if p.run_id < run_id), key=lambda p: p.run_id, reverse=True)


def _last_that_ran(test_id: str, earlier: Sequence[PastRun]) -> PastRun | None:
    return next((past for past in earlier if test_id in past.statuses), None)


def mark_failures(
    *,
    run_id: str,
    commit_sha: str | None,
    failing: Iterable[str],
    history: Sequence[PastRun],
    base: Sequence[PastRun] = (),
) -> dict[str, Mark]:
    """Pure. `history`: the branch's other runs with test results, any order (later runs count for flakiness);
    `base`: the base branch's runs with results (empty for a run of the base branch itself). A failing test with no
    mark to give (no earlier results to compare with) is left out."""
    same_commit = [p for p in history if commit_sha and p.commit_sha == commit_sha and p.run_id != run_id]
    earlier, earlier_on_base = _newest_first(history, run_id), _newest_first(base, run_id)
    marks: dict[str, Mark] = {}
    for test_id in failing:
        passed_there = next((p.run_id for p in same_commit if p.statuses.get(test_id) == 'passed'), None)
        if passed_there:
            marks[test_id] = Mark('flaky', passed_there)
            continue
        if _last_that_ran(test_id, earlier) is None:
            on_base = _last_that_ran(test_id, earlier_on_base)
            if on_base is not None and on_base.statuses[test_id] in FAILED:
                marks[test_id] = Mark('failing_on_base', on_base.run_id)
            elif earlier or earlier_on_base:  # an earlier report did not have it (or main passed it): new
                marks[test_id] = Mark('new')
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


def fixed_tests(here: Iterable[tuple[str, str]]) -> list[str]:
    """Pure. `here`: this run's (test_id, status) rows, in report order, for the tests the compared run failed; the
    ones it fixed, each once: passed, and not failed in another of its reports."""
    rows = list(here)
    failed = {test_id for test_id, status in rows if status in FAILED}
    return list(dict.fromkeys(test_id for test_id, status in rows if status == 'passed' and test_id not in failed))


HISTORY_RUNS_SQL = (
    'SELECT t.run_id, t.commit_sha FROM testreport t JOIN run r ON r.id = t.run_id '
    'WHERE t.project_id = :p AND t.branch_name = :b AND t.run_id != :r AND (t.run_id < :r OR t.commit_sha = :c) '
    'AND r.depth_level = :d AND r.target_framework = :f ORDER BY t.run_id DESC LIMIT :n'
)


def read_history(
    conn: Connection,
    *,
    project_id: str,
    branch: str,
    run_id: str,
    commit_sha: str | None,
    test_ids: list[str],
    depth_level: str,
    target_framework: str,
) -> list[PastRun]:
    """The branch's other runs with results at this depth level and framework (the last HISTORY_RUNS older ones, and
    any on the same commit), with the statuses of `test_ids` in each."""
    if not test_ids:
        return []
    params = {'p': project_id, 'b': branch, 'r': run_id, 'c': commit_sha or '', 'n': HISTORY_RUNS}
    runs = conn.execute(text(HISTORY_RUNS_SQL), {**params, 'd': depth_level, 'f': target_framework}).all()
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


# the previous run with results of that kind (its tests, its coverage) at the same depth level and framework
COMPARISON_SQL = {
    table: (
        f'SELECT t.run_id FROM {table} t JOIN run r ON r.id = t.run_id WHERE t.project_id = :p AND t.branch_name = :b '
        'AND t.run_id < :r AND r.depth_level = :d AND r.target_framework = :f ORDER BY t.run_id DESC LIMIT 1'
    )
    for table in ('testreport', 'runcoverage')
}
FAILED_IN_SQL = "SELECT test_id FROM testcase WHERE run_id = :r AND status IN ('failed', 'error') LIMIT :n"


def comparison_run(
    conn: Connection,
    *,
    project_id: str,
    branches: Sequence[str],
    run_id: str,
    depth_level: str,
    target_framework: str,
    results: Literal['testreport', 'runcoverage'] = 'testreport',
) -> str | None:
    """The run this one's fixed tests (or its coverage) are read against: the latest earlier run with such results at
    the same depth level and framework on the first of `branches` that has one (the run's branch, then the base
    branch)."""
    for branch in branches:
        params = {'p': project_id, 'b': branch, 'r': run_id, 'd': depth_level, 'f': target_framework}
        found = conn.execute(text(COMPARISON_SQL[results]), params).scalar()
        if found is not None:
            return str(found)
    return None


def failed_in(conn: Connection, run_id: str, *, limit: int = 5000) -> list[str]:
    return [row[0] for row in conn.execute(text(FAILED_IN_SQL), {'r': run_id, 'n': limit})]


def read_results(
    conn: Connection,
    *,
    project_id: str,
    branch: str,
    base_branch: str | None,
    run_id: str,
    commit_sha: str | None,
    test_ids: list[str],
    depth_level: str,
    target_framework: str,
) -> tuple[list[PastRun], list[PastRun]]:
    """The branch's and the base branch's runs with results at the run's depth level and framework (`history` and
    `base` of the pure functions above); no base runs for a run of the base branch itself."""

    def of(on_branch: str, commit: str | None) -> list[PastRun]:
        return read_history(
            conn,
            project_id=project_id,
            branch=on_branch,
            run_id=run_id,
            commit_sha=commit,
            test_ids=test_ids,
            depth_level=depth_level,
            target_framework=target_framework,
        )

    history = of(branch, commit_sha)
    if not base_branch or base_branch == branch:
        return history, []
    return history, of(base_branch, None)
