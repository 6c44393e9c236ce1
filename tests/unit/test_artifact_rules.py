"""Table tests for the pure artifact decisions: what a run keeps (plan), which paths name an artifact,
how a failure reads across a branch's runs (mark_failures), when retention takes an artifact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.core.artifact_paths import path_problem
from app.services.artifacts.collect import Found, human_size, plan
from app.services.artifacts.history import Mark, PastRun, fixed_tests, mark_failures
from app.services.artifacts.retention import cutoff

LINK = 'a symbolic link, not a file: not kept'


@pytest.mark.parametrize(
    ('found', 'limit', 'kept', 'refused'),
    [
        ([], 100, [], []),
        ([Found('a', 10), Found('b', 20)], 100, ['a', 'b'], []),
        ([Found('a', 100)], 100, ['a'], []),  # exactly the limit fits
        ([Found('a', 101)], 100, [], ['a']),
        # a file past the limit is refused, the others are still kept (a smaller one after it may fit)
        ([Found('a', 60), Found('big', 80), Found('c', 40)], 100, ['a', 'c'], ['big']),
        # path order decides, not the order the walk found them
        ([Found('z', 60), Found('a', 60)], 100, ['a'], ['z']),
        ([Found('link', 0, LINK), Found('x', 1)], 100, ['x'], ['link']),  # a link is refused whatever its size
        ([Found('empty', 0)], 0, ['empty'], []),  # limit 0 keeps only empty files
    ],
)
def test_plan(found, limit, kept, refused) -> None:  # noqa: ANN001
    decisions = plan(found, limit=limit)
    assert [d.path for d in decisions if d.keep] == kept
    assert [d.path for d in decisions if not d.keep] == refused
    assert all(d.refused for d in decisions if not d.keep)


def test_a_refusal_says_the_sizes_and_the_setting() -> None:
    (decision,) = plan([Found('big.bin', 3 * 1024 * 1024)], limit=1024 * 1024)
    assert decision.refused == (
        '3.0 MB would take the run past its artifact limit of 1.0 MB (0 bytes kept); RUNBOARD_MAX_ARTIFACT_BYTES'
    )


def test_past_the_file_count_the_rest_is_refused() -> None:
    decisions = plan([Found(f'f{i}', 1) for i in range(5)], limit=100, max_files=3)
    assert [d.keep for d in decisions] == [True, True, True, False, False]


@pytest.mark.parametrize(
    ('size', 'shown'), [(0, '0 bytes'), (1023, '1023 bytes'), (1024, '1.0 KB'), (5 * 1024**3, '5.0 GB')]
)
def test_human_size(size: int, shown: str) -> None:
    assert human_size(size) == shown


@pytest.mark.parametrize(
    ('path', 'ok'),
    [
        ('report.html', True),
        ('screens/shot 1.png', True),
        ('a/b/c.txt', True),
        ('..', False),
        ('../secret.key', False),
        ('a/../../etc/passwd', False),
        ('/etc/passwd', False),
        ('a//b', False),
        ('./a', False),
        ('a/.', False),
        ('a\\..\\b', False),
        ('a\x00b', False),
        ('', False),
        ('x' * 1025, False),
    ],
)
def test_path_problem(path: str, ok: bool) -> None:
    assert (path_problem(path) is None) == ok


def past(run_id: str, commit: str, **statuses: str) -> PastRun:
    return PastRun(run_id, commit, statuses)


@pytest.mark.parametrize(
    ('history', 'mark'),
    [
        ([], None),  # no earlier results at all (a first run): nothing says it is new
        ([past('run_2', 'c1', other='passed')], Mark('new')),  # an earlier report without it: a new test, failing
        ([past('run_1', 'c0', t='passed')], Mark('new')),  # passed last time
        ([past('run_1', 'c0', t='skipped')], Mark('new')),  # skipped last time: not a failure streak
        ([past('run_1', 'c0', t='failed')], Mark('still_failing', 'run_1')),
        ([past('run_1', 'c0', t='error')], Mark('still_failing', 'run_1')),  # an error is a failure
        # the streak goes back to its first failure, not further
        (
            [past('run_1', 'c0', t='passed'), past('run_2', 'c1', t='failed'), past('run_3', 'c2', t='failed')],
            Mark('still_failing', 'run_2'),
        ),
        # a run that did not run the test (another depth level) is looked through
        ([past('run_2', 'c1', t='failed'), past('run_3', 'c2', other='passed')], Mark('still_failing', 'run_2')),
        ([past('run_2', 'c1', t='passed'), past('run_3', 'c2')], Mark('new')),
        # passed and failed on one commit: flaky, earlier or later run alike, whatever the streak says
        ([past('run_3', 'c9', t='passed')], Mark('flaky', 'run_3')),
        ([past('run_5', 'c9', t='passed')], Mark('flaky', 'run_5')),  # a later retry on the same commit passed
        ([past('run_2', 'c1', t='failed'), past('run_3', 'c9', t='passed')], Mark('flaky', 'run_3')),
        ([past('run_3', 'c9', t='failed')], Mark('still_failing', 'run_3')),  # failed twice on it: not flaky
        # later runs on other commits do not count: no earlier results, no mark
        ([past('run_5', 'c5', t='failed')], None),
        ([past('run_5', 'c5', t='failed'), past('run_1', 'c0', other='passed')], Mark('new')),
    ],
)
def test_mark_failures(history: list[PastRun], mark: Mark | None) -> None:
    marks = mark_failures(run_id='run_4', commit_sha='c9', failing=['t'], history=history)
    assert marks == ({'t': mark} if mark else {})


def test_marks_each_failing_test_on_its_own() -> None:
    history = [past('run_1', 'c0', a='failed', b='passed')]
    marks = mark_failures(run_id='run_2', commit_sha='c1', failing=['a', 'b'], history=history)
    assert marks == {'a': Mark('still_failing', 'run_1'), 'b': Mark('new')}


@pytest.mark.parametrize(
    ('history', 'base', 'mark'),
    [
        ([], [past('run_1', 'b0', t='failed')], Mark('failing_on_base', 'run_1')),  # main fails it already
        ([], [past('run_1', 'b0', t='passed')], Mark('new')),  # the branch broke it
        ([], [past('run_1', 'b0', t='failed'), past('run_2', 'b1', t='passed')], Mark('new')),  # main fixed it since
        ([], [past('run_1', 'b0', t='failed'), past('run_2', 'b1')], Mark('failing_on_base', 'run_1')),  # skips run_2
        ([], [past('run_5', 'b5', t='failed')], None),  # main failed it only after this run: no earlier results
        ([], [], None),  # the project's first run: no history, no mark
        ([], [past('run_1', 'b0', other='passed')], Mark('new')),  # main's earlier report did not have it
        ([past('run_5', 'c5', t='passed')], [past('run_6', 'b6', t='passed')], None),  # only later runs, elsewhere
        # the branch's own earlier result comes first, whatever main says
        ([past('run_2', 'c1', t='passed')], [past('run_1', 'b0', t='failed')], Mark('new')),
        ([past('run_2', 'c1', t='failed')], [past('run_1', 'b0', t='failed')], Mark('still_failing', 'run_2')),
        # a branch run that did not run the test is no result: main's is used
        ([past('run_2', 'c1', other='passed')], [past('run_1', 'b0', t='failed')], Mark('failing_on_base', 'run_1')),
        # flaky on the run's own commit wins
        ([past('run_3', 'c9', t='passed')], [past('run_1', 'b0', t='failed')], Mark('flaky', 'run_3')),
    ],
)
def test_mark_failures_against_the_base_branch(history: list[PastRun], base: list[PastRun], mark: Mark | None) -> None:
    marks = mark_failures(run_id='run_4', commit_sha='c9', failing=['t'], history=history, base=base)
    assert marks == ({'t': mark} if mark else {})


@pytest.mark.parametrize(
    ('here', 'fixed'),
    [
        ([], []),
        ([('a', 'passed')], ['a']),
        ([('a', 'failed')], []),  # still failing
        ([('a', 'error')], []),
        ([('a', 'skipped')], []),  # not run: not fixed
        ([('b', 'passed'), ('a', 'passed')], ['b', 'a']),  # in report order
        ([('a', 'passed'), ('a', 'passed')], ['a']),  # in two reports: listed once
        ([('a', 'passed'), ('a', 'failed')], []),  # passed in one report, failed in another: a failure wins
    ],
)
def test_fixed_tests(here: list[tuple[str, str]], fixed: list[str]) -> None:
    assert fixed_tests(iter(here)) == fixed


NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ('days', 'before'),
    [(30, NOW - timedelta(days=30)), (0.5, NOW - timedelta(hours=12)), (0, None), (-1, None)],
)
def test_retention_cutoff(days: float, before: datetime | None) -> None:
    assert cutoff(NOW, days) == before
