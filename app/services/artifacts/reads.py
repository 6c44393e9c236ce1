"""What the API answers about artifacts and tests: a run's artifacts (and one file's row, after the path is
checked), a run's test results with each failure marked across its branch, a project's flakiest tests and its
test chart, and the failing tests a `run.failed` notification carries. Visibility is the run's (another team's
run does not exist: 404)."""

from __future__ import annotations

import json
from typing import Any, Literal
from urllib.parse import quote

from sqlalchemy import Connection, Engine, text
from sqlmodel import Session, col, select

from app.core.artifact_paths import path_problem
from app.core.errors import DomainError, not_found
from app.models import Project, Run, as_utc
from app.models.artifacts import (
    Artifact,
    ArtifactList,
    ArtifactPreview,
    ArtifactPublic,
    CoveragePoint,
    CoveragePublic,
    FlakyTest,
    ProjectTests,
    RunCoverage,
    RunSummary,
    RunSummaryPublic,
    RunTestCase,
    RunTestReport,
    RunTests,
    TestCasePublic,
    TestHistoryPoint,
    TestTotals,
)
from app.services.artifacts.history import (
    FAILED,
    comparison_run,
    failed_in,
    fixed_tests,
    mark_failures,
    read_results,
)
from app.services.artifacts.masked import PREVIEW_BYTES, NoMasks, is_previewed, shown_text
from app.services.identity.accounts import Principal
from app.services.projects import visibility
from app.services.runs.reads import load_visible_run
from app.services.runs.timeline import timed_sql

MAX_FAILURES = 500  # answered per run (the totals count them all)
SLOWEST = 10
FLAKY_WINDOW_RUNS = 200  # a project's flakiest tests are read over its last runs with results
CHART_RUNS = 100


def check_path(path: str) -> None:
    if reason := path_problem(path):
        raise DomainError(400, 'invalid_artifact_path', f'{reason}: {path[:200]!r}', field='path')


def artifact_url(run_id: str, path: str) -> str:
    return f'/api/runs/{run_id}/artifacts/{quote(path)}'


def list_artifacts(
    engine: Engine, principal: Principal, run_id: str, *, limit_bytes: int, retention_days: float
) -> ArtifactList:
    with Session(engine) as session:
        run, _ = load_visible_run(session, run_id, principal)
        rows = session.exec(select(Artifact).where(col(Artifact.run_id) == run_id).order_by(col(Artifact.path))).all()
    items = [ArtifactPublic(**row.model_dump(), url=artifact_url(run_id, row.path)) for row in rows]
    return ArtifactList(
        items=items,
        total_bytes=sum(item.size for item in items if item.stored),
        limit_bytes=limit_bytes,
        retention_days=retention_days,
        removed_at=as_utc(run.artifacts_removed_at),
    )


def expired(run: Run) -> DomainError:
    """410, as GitHub answers an expired artifact: retention removed the run's files, the run did keep some."""
    removed = as_utc(run.artifacts_removed_at).date().isoformat() if run.artifacts_removed_at else 'an earlier day'
    return DomainError(
        410,
        'artifacts_expired',
        f'the artifacts of run {run.id!r} expired: artifact retention removed them on {removed}',
    )


def kept_artifacts(engine: Engine, principal: Principal, run_id: str) -> list[Artifact]:
    """The files of the run that were kept, in path order (404 for no such run; `no_artifacts` when it kept none; 410
    `artifacts_expired` once retention removed them, also when its summary stays)."""
    with Session(engine) as session:
        run, _ = load_visible_run(session, run_id, principal)
        query = (
            select(Artifact).where(col(Artifact.run_id) == run_id, col(Artifact.stored)).order_by(col(Artifact.path))
        )
        rows = list(session.exec(query).all())
    if run.artifacts_removed_at is not None:
        raise expired(run)
    if not rows:
        raise DomainError(404, 'no_artifacts', f'run {run_id!r} kept no files')
    return rows


def artifact_row(engine: Engine, principal: Principal, run_id: str, path: str) -> Artifact:
    """The stored artifact at `path` (400 for a path that cannot be one, 404 for none, or one that was refused; 410
    once retention removed the run's artifacts)."""
    check_path(path)
    with Session(engine) as session:
        run, _ = load_visible_run(session, run_id, principal)
        row = session.get(Artifact, (run_id, path))
    if row is None and run.artifacts_removed_at is not None:
        raise expired(run)
    if row is None:
        raise not_found(f'artifact {path[:200]!r} of run {run_id!r}')
    if not row.stored:
        raise DomainError(404, 'artifact_not_stored', f'{path[:200]!r} was not kept: {row.refused}', path=path)
    return row


def previewed_row(engine: Engine, principal: Principal, run_id: str, path: str) -> Artifact:
    """artifact_row, for a file the Artifacts tab previews as text (415 `not_previewed` for another type)."""
    row = artifact_row(engine, principal, run_id, path)
    if not is_previewed(row.content_type):
        raise DomainError(
            415, 'not_previewed', f'{path[:200]!r} is {row.content_type}: only text is previewed', path=path
        )
    return row


def preview_of(row: Artifact, head: bytes | None) -> ArtifactPreview:
    """Pure: the preview of a text file, from its masked preview when masking changed it, else from `head` (its first
    PREVIEW_BYTES, read from the store: the file holds none of the run's masked values there, or was kept before
    previews were checked)."""
    cut = row.size > PREVIEW_BYTES
    if row.preview is not None:
        return ArtifactPreview(path=row.path, text=row.preview, cut=cut, masked=True, checked=True)
    text = shown_text(head or b'', cut=cut, masks=NoMasks())
    return ArtifactPreview(path=row.path, text=text, cut=cut, masked=False, checked=row.preview_checked)


def run_summary(engine: Engine, principal: Principal, run_id: str) -> RunSummaryPublic:
    """The run's summary as its page shows it (masked when it was kept); 404 `no_summary` when it wrote none, or was
    kept before summaries were masked (its artifact summary.md is still listed)."""
    with Session(engine) as session:
        load_visible_run(session, run_id, principal)
        row = session.get(RunSummary, run_id)
    if row is None:
        raise DomainError(404, 'no_summary', f'run {run_id!r} has no summary')
    return RunSummaryPublic(run_id=run_id, text=row.text, size=row.size, cut=row.cut)


def _case(row: RunTestCase) -> TestCasePublic:
    return TestCasePublic.model_validate(row.model_dump())


def _compared_branches(run: Run, project: Project) -> list[str]:
    """Where the run it is compared with is looked for: its branch, then the base branch."""
    return [run.branch_name] + ([project.base_branch] if run.branch_name != project.base_branch else [])


def _compared_run(
    session: Session, run: Run, branches: list[str], results: Literal['testreport', 'runcoverage']
) -> str | None:
    return comparison_run(
        session.connection(),
        project_id=run.project_id,
        branches=branches,
        run_id=run.id,
        depth_level=run.depth_level,
        target_framework=run.target_framework,
        results=results,
    )


def _coverage(session: Session, run: Run, branches: list[str]) -> CoveragePublic | None:
    """The run's coverage, and its change against the previous run with coverage at the same depth level and
    framework (on its branch, else on the base branch), as the tests are compared."""
    row = session.get(RunCoverage, run.id)
    if row is None:
        return None
    compared_with = _compared_run(session, run, branches, 'runcoverage')
    before = session.get(RunCoverage, compared_with) if compared_with else None
    return CoveragePublic(
        percent=row.percent,
        lines_covered=row.lines_covered,
        lines_valid=row.lines_valid,
        reports=json.loads(row.reports or '[]'),
        compared_with=compared_with,
        change=round(row.percent - before.percent, 2) if before is not None else None,
    )


def _fixed(session: Session, run: Run, branches: list[str]) -> tuple[str | None, list[TestCasePublic]]:
    """The run this one is compared with, and the tests it fixed: those that run failed and this one passed."""
    compared_with = _compared_run(session, run, branches, 'testreport')
    failed_there = failed_in(session.connection(), compared_with) if compared_with else []
    here = [  # what this run did with the tests the compared run failed
        row
        for start in range(0, len(failed_there), 500)
        for row in session.exec(
            select(RunTestCase).where(
                col(RunTestCase.run_id) == run.id, col(RunTestCase.test_id).in_(failed_there[start : start + 500])
            )
        ).all()
    ]
    here.sort(key=lambda row: row.idx)  # in report order
    first_row = {row.test_id: row for row in reversed(here)}
    fixed = [
        _case(first_row[test_id]).model_copy(update={'mark': 'fixed', 'since_run_id': compared_with})
        for test_id in fixed_tests((row.test_id, row.status) for row in here)
    ]
    return compared_with, fixed[:MAX_FAILURES]


def run_tests(engine: Engine, principal: Principal, run_id: str) -> RunTests:
    with Session(engine) as session:
        run, project = load_visible_run(session, run_id, principal)
        branches = _compared_branches(run, project)
        report = session.get(RunTestReport, run_id)
        covered = _coverage(session, run, branches)
        if report is None:
            return RunTests(run_id=run_id, has_report=False, totals=TestTotals(), coverage=covered)
        cases = session.exec
        failing = cases(
            select(RunTestCase)
            .where(col(RunTestCase.run_id) == run_id, col(RunTestCase.status).in_(FAILED))
            .order_by(col(RunTestCase.idx))
            .limit(MAX_FAILURES)
        ).all()
        skipped = cases(
            select(RunTestCase)
            .where(col(RunTestCase.run_id) == run_id, col(RunTestCase.status) == 'skipped')
            .order_by(col(RunTestCase.idx))
            .limit(MAX_FAILURES)
        ).all()
        slowest = cases(  # a report without times has no slowest (0 s is no time, not a fast test)
            select(RunTestCase)
            .where(col(RunTestCase.run_id) == run_id, col(RunTestCase.duration_seconds) > 0)
            .order_by(col(RunTestCase.duration_seconds).desc(), col(RunTestCase.idx))
            .limit(SLOWEST)
        ).all()
        failures = [_case(row) for row in failing]
        compared_with, fixed = _fixed(session, run, branches)
        base_branch = branches[1] if len(branches) > 1 else None
        history, base = read_results(
            session.connection(),
            project_id=run.project_id,
            branch=run.branch_name,
            base_branch=base_branch,
            run_id=run_id,
            commit_sha=report.commit_sha,
            test_ids=sorted({f.test_id for f in failures}),
            depth_level=run.depth_level,
            target_framework=run.target_framework,
        )
    marks = mark_failures(
        run_id=run_id, commit_sha=report.commit_sha, failing=[f.test_id for f in failures], history=history, base=base
    )
    for failure in failures:
        mark = marks.get(failure.test_id)
        if mark is not None:
            failure.mark, failure.since_run_id = mark.mark, mark.since_run_id  # type: ignore[assignment]
    return RunTests(
        run_id=run_id,
        has_report=True,
        totals=TestTotals(**{k: getattr(report, k) for k in TestTotals.model_fields}),
        reports=json.loads(report.reports or '[]'),
        problems=report.problems,
        failures=failures,
        fixed=fixed,
        base_branch=base_branch,
        compared_with=compared_with,
        skipped=[_case(row) for row in skipped],
        slowest=[_case(row) for row in slowest],
        failures_truncated=report.failed + report.errors > len(failures),
        coverage=covered,
    )


FLAKIEST_SQL = """
SELECT c.test_id, SUM(c.flaky) AS flaky_commits, SUM(c.failures) AS failures, SUM(c.runs) AS runs,
       MAX(c.last_failed) AS last_failed
FROM (
  SELECT tc.test_id,
         CASE WHEN SUM(CASE WHEN tc.status = 'passed' THEN 1 ELSE 0 END) > 0
               AND SUM(CASE WHEN tc.status IN ('failed', 'error') THEN 1 ELSE 0 END) > 0 THEN 1 ELSE 0 END AS flaky,
         SUM(CASE WHEN tc.status IN ('failed', 'error') THEN 1 ELSE 0 END) AS failures,
         COUNT(*) AS runs,
         MAX(CASE WHEN tc.status IN ('failed', 'error') THEN tc.run_id END) AS last_failed
  FROM testcase tc JOIN testreport tr ON tr.run_id = tc.run_id JOIN run r ON r.id = tr.run_id
  WHERE tr.project_id = :p AND tr.run_id >= :oldest
  GROUP BY tc.test_id, COALESCE(tr.commit_sha, tr.run_id), r.depth_level, r.target_framework
) c
GROUP BY c.test_id
HAVING SUM(c.failures) > 0
ORDER BY SUM(c.flaky) DESC, SUM(c.failures) DESC, c.test_id
LIMIT :n
"""


def project_tests(engine: Engine, principal: Principal, project_id: str, *, limit: int = 10) -> ProjectTests:
    """The tests that passed and failed on the same commit most often (then the most failed), over the
    project's last FLAKY_WINDOW_RUNS runs with results; its test count and failures per run, oldest first; and
    the base branch's coverage per run, oldest first."""
    with Session(engine) as session:
        project = visibility.get_visible(session, project_id, principal)
        conn = session.connection()
        coverage = [
            CoveragePoint(run_id=r[0], depth_level=r[1], target_framework=r[2], created_at=r[3], percent=r[4])
            for r in reversed(
                conn.execute(COVERAGE_HISTORY_SQL, {'p': project_id, 'b': project.base_branch, 'n': CHART_RUNS}).all()
            )
        ]
        recent = conn.execute(
            timed_sql(
                'SELECT run_id, branch_name, created_at, total, failed, errors, skipped FROM testreport '
                'WHERE project_id = :p ORDER BY run_id DESC LIMIT :n',
                columns=('created_at',),
            ),
            {'p': project_id, 'n': max(FLAKY_WINDOW_RUNS, CHART_RUNS)},
        ).all()
        flakiest: list[FlakyTest] = []
        if recent:
            oldest = recent[min(len(recent), FLAKY_WINDOW_RUNS) - 1][0]
            for row in conn.execute(text(FLAKIEST_SQL), {'p': project_id, 'oldest': oldest, 'n': limit}):
                flakiest.append(
                    FlakyTest(
                        test_id=row[0],
                        flaky_commits=int(row[1] or 0),
                        failures=int(row[2] or 0),
                        runs=int(row[3] or 0),
                        last_failed_run_id=row[4],
                    )
                )
    history = [
        TestHistoryPoint(run_id=r[0], branch_name=r[1], created_at=r[2], total=r[3], failed=r[4] + r[5], skipped=r[6])
        for r in reversed(recent[:CHART_RUNS])
    ]
    return ProjectTests(flakiest=flakiest, history=history, coverage_branch=project.base_branch, coverage=coverage)


COVERAGE_HISTORY_SQL = timed_sql(  # newest first, along ix_runcoverage_branch_run
    'SELECT c.run_id, r.depth_level, r.target_framework, c.created_at, c.percent FROM runcoverage c '
    'JOIN run r ON r.id = c.run_id WHERE c.project_id = :p AND c.branch_name = :b ORDER BY c.run_id DESC LIMIT :n',
    columns=('created_at',),
)


FAILURE_FACTS_SQL = (
    'SELECT r.project_id, r.branch_name, r.commit_sha, p.base_branch, run.depth_level, run.target_framework '
    'FROM testreport r JOIN project p ON p.id = r.project_id JOIN run ON run.id = r.run_id WHERE r.run_id = :r'
)


def failing_tests(conn: Connection, run_id: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """For a `run.failed` notification: the run's first failing tests, each with the first line of its message and
    its mark against earlier runs (as the Tests tab shows it)."""
    rows = conn.execute(
        text(
            'SELECT test_id, classname, name, status, message FROM testcase WHERE run_id = :r '
            "AND status IN ('failed', 'error') ORDER BY idx LIMIT :n"
        ),
        {'r': run_id, 'n': limit},
    ).all()
    facts = conn.execute(text(FAILURE_FACTS_SQL), {'r': run_id}).first()
    marks = {}
    if facts is not None and rows:
        failing = [r[0] for r in rows]
        history, base = read_results(
            conn,
            project_id=facts[0],
            branch=facts[1],
            base_branch=facts[3],
            run_id=run_id,
            commit_sha=facts[2],
            test_ids=sorted(set(failing)),
            depth_level=facts[4],
            target_framework=facts[5],
        )
        marks = mark_failures(run_id=run_id, commit_sha=facts[2], failing=failing, history=history, base=base)
    return [
        {
            'test_id': r[0],
            'classname': r[1],
            'name': r[2],
            'status': r[3],
            'message': ((r[4] or '').strip().splitlines() or [''])[0][:300],
            'mark': marks[r[0]].mark if r[0] in marks else None,
            'since_run_id': marks[r[0]].since_run_id if r[0] in marks else None,
        }
        for r in rows
    ]


def failed_tests_summary(conn: Connection, run_id: str, *, limit: int = 20) -> dict[str, Any] | None:
    """A `run.failed` notification's `tests`: the totals and the first failing tests (None: no report)."""
    row = conn.execute(
        text('SELECT total, passed, failed, errors, skipped FROM testreport WHERE run_id = :r'), {'r': run_id}
    ).first()
    if row is None:
        return None
    return {
        'total': row[0],
        'passed': row[1],
        'failed': row[2] + row[3],
        'skipped': row[4],
        'failing': failing_tests(conn, run_id, limit=limit),
    }
