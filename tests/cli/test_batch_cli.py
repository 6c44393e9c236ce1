"""`runboard runs trigger --matrix ...` and `runboard runs batch`: the matrix options, the per-child answer and
its exit code (0 all admitted, 3 some refused), a resend with --key completing only the missing children."""

from __future__ import annotations

import pytest
import typer
from sqlalchemy import text

from app.cli.batch import parse_matrix, wait_for
from app.cli.policy import Exit, exit_code_for_batch, exit_code_for_followed_batch
from app.client import ApiError, RunboardClient
from tests.helpers.cli import served
from tests.helpers.runs import wait_for_status

MATRIX = ('runs', 'trigger', '--project', 'proj', '--branch', 'main')
AXES = ('--matrix', 'depth=shallow,deep', '--matrix', 'framework=python,node')


@pytest.mark.parametrize(
    ('options', 'depth', 'framework', 'matrix'),
    [
        (
            ['depth=shallow,deep', 'framework=python,node'],
            None,
            None,
            {'depth_level': ['shallow', 'deep'], 'target_framework': ['python', 'node']},
        ),
        # the other axis: one value
        (['depth=shallow, deep '], None, 'go', {'depth_level': ['shallow', 'deep'], 'target_framework': ['go']}),
        (['Framework=python'], 'deep', None, {'depth_level': ['deep'], 'target_framework': ['python']}),
        (['depth_level=a', 'target_framework=b,c'], None, None, {'depth_level': ['a'], 'target_framework': ['b', 'c']}),
        # the other axis not given at all: left out, for the project's first (as a plain trigger takes it)
        (['depth=a,b'], None, None, {'depth_level': ['a', 'b']}),
        (['framework=b'], None, None, {'target_framework': ['b']}),
    ],
)
def test_parse_matrix(options, depth, framework, matrix) -> None:  # noqa: ANN001
    assert parse_matrix(options, depth=depth, framework=framework) == matrix


@pytest.mark.parametrize(
    ('options', 'depth', 'framework', 'says'),
    [
        (['colour=red'], None, 'go', 'depth=V1,V2'),
        (['depth'], None, 'go', 'depth=V1,V2'),
        (['depth=a', 'depth=b'], None, 'go', 'given twice'),
        (['depth=,'], None, 'go', 'lists no value'),
        (['depth=a'], 'b', 'go', 'not both'),
    ],
)
def test_parse_matrix_refuses_what_it_cannot_read(options, depth, framework, says) -> None:  # noqa: ANN001
    with pytest.raises(typer.BadParameter, match=says):
        parse_matrix(options, depth=depth, framework=framework)


def child(outcome: str, error: str | None = None, retry_after: int | None = None) -> dict:
    problem = {'error': error, 'retry_after': retry_after} if error else None
    return {'outcome': outcome, 'problem': problem}


@pytest.mark.parametrize(
    ('children', 'seconds'),
    [
        ([child('admitted')], None),
        ([child('admitted'), child('refused', 'rate_limited', 4), child('refused', 'rate_limited', 2)], 4),
        ([child('refused', 'rate_limited', 3), child('refused', 'pr_lock')], None),  # waiting cannot help a lock
    ],
)
def test_wait_for(children, seconds) -> None:  # noqa: ANN001
    assert wait_for({'children': children}) == seconds


@pytest.mark.parametrize(
    ('summary', 'code'),
    [
        ({'total': 4, 'admitted': 4, 'refused': 0, 'pending': 0}, Exit.OK),
        ({'total': 4, 'admitted': 3, 'refused': 1, 'pending': 0}, Exit.REFUSED),
        ({'total': 4, 'admitted': 0, 'refused': 4, 'pending': 0}, Exit.REFUSED),
        ({'total': 4, 'admitted': 2, 'refused': 0, 'pending': 2}, Exit.REFUSED),
    ],
)
def test_exit_code_for_batch(summary, code) -> None:  # noqa: ANN001
    assert exit_code_for_batch(summary) == code


ALL_IN = {'total': 2, 'admitted': 2, 'refused': 0, 'pending': 0}
ONE_OUT = {'total': 2, 'admitted': 1, 'refused': 1, 'pending': 0}


@pytest.mark.parametrize(
    ('summary', 'statuses', 'code'),
    [
        (ALL_IN, ['succeeded', 'succeeded'], Exit.OK),
        (ALL_IN, ['succeeded', 'failed'], Exit.RUN_NOT_SUCCEEDED),
        (ALL_IN, ['stopped', 'timed_out'], Exit.RUN_NOT_SUCCEEDED),
        (ONE_OUT, ['succeeded'], Exit.REFUSED),  # the same --key admits the missing one
        (ONE_OUT, ['crashed'], Exit.RUN_NOT_SUCCEEDED),  # a run failed: the batch did, whatever is missing
        ({'total': 2, 'admitted': 0, 'refused': 2, 'pending': 0}, [], Exit.REFUSED),
    ],
)
def test_exit_code_for_followed_batch(summary, statuses, code) -> None:  # noqa: ANN001
    assert exit_code_for_followed_batch(summary, statuses) == code


def outcomes(said: str) -> dict[str, str]:
    """cell -> status, from the lines `depth/framework: Run run_… STATUS after …` a followed batch prints."""
    found = {}
    for line in said.splitlines():
        cell, sep, rest = line.partition(': Run run_')
        if sep:
            found[cell] = rest.split()[1]
    return found


def test_a_followed_matrix_waits_for_every_run_and_exits_with_the_batchs_outcome(
    settings_factory, repo_factory, monkeypatch
) -> None:  # noqa: ANN001
    """`runs trigger --matrix ... --follow` once exited 2 ("for a single run"): a CI script could not wait for a
    batch. It says each run's outcome as it ends, and exits 0 only when all succeeded (PIPELINE fails at deep)."""
    with served(settings_factory, repo_factory, rate_limit_runs=1000) as (server, cli):
        with server.client() as client:
            assert client.patch('/api/projects/proj', json={'max_concurrent_runs': 10}).status_code == 200
        failed = cli(*MATRIX, '--matrix', 'depth=shallow,deep', '--framework', 'python', '--follow')
        assert failed.code == Exit.RUN_NOT_SUCCEEDED, failed.stdout + failed.stderr
        assert outcomes(failed.stdout) == {'shallow/python': 'succeeded', 'deep/python': 'failed'}
        assert failed.stdout.splitlines()[-1].endswith(': 1 failed, 1 succeeded; exit 1.')

        # --json: the batch once every run ended, each child with its run as it ended; the outcomes on stderr. Read
        # by polling alone when the server's event stream does not answer
        async def no_stream(self, **_filters):  # noqa: ANN001, ANN003, ANN202
            raise ApiError(503, 'http_error', 'no event stream here')
            yield  # an async generator, as the real one

        monkeypatch.setattr(RunboardClient, 'events', no_stream)
        monkeypatch.setattr('app.cli.follow.POLL_SECONDS', 0.2)
        passed = cli(*MATRIX, '--matrix', 'framework=python,node', '--depth', 'shallow', '--follow', '--json')
        assert passed.code == Exit.OK, passed.stderr
        batch = passed.json()
        assert [(c['target_framework'], c['run']['status']) for c in batch['children']] == [
            ('python', 'succeeded'),
            ('node', 'succeeded'),
        ]
        assert all(c['run']['finished_at'] and c['run']['exit_code'] == 0 for c in batch['children'])
        assert outcomes(passed.stderr) == {'shallow/python': 'succeeded', 'shallow/node': 'succeeded'}


def test_a_followed_matrix_with_a_refused_child_follows_the_others_then_exits_3(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with served(settings_factory, repo_factory, rate_limit_runs=1000) as (_server, cli):
        # max_concurrent_runs 2: the two shallow children are admitted, the deep ones refused while those are active
        partial = cli(*MATRIX, *AXES, '--follow', '--json')
        assert partial.code == Exit.REFUSED, partial.stderr
        batch = partial.json()
        assert [c['outcome'] for c in batch['children']] == ['admitted', 'admitted', 'refused', 'refused']
        assert [c['run']['status'] for c in batch['children'][:2]] == ['succeeded', 'succeeded']
        assert outcomes(partial.stderr) == {'shallow/python': 'succeeded', 'shallow/node': 'succeeded'}


def test_matrix_trigger_answers_per_child_and_a_resend_with_the_key_completes_it(
    settings_factory, repo_factory
) -> None:  # noqa: ANN001
    with served(settings_factory, repo_factory, global_run_cap=0, rate_limit_runs=3, rate_limit_window_seconds=2) as (
        server,
        cli,
    ):
        with server.client() as client:
            assert client.patch('/api/projects/proj', json={'max_concurrent_runs': 10}).status_code == 200
        first = cli(*MATRIX, *AXES, '--key', 'ci-matrix')
        assert first.code == Exit.REFUSED, first.stdout + first.stderr
        assert '4 runs (best_effort): 3 admitted, 1 refused' in first.stdout
        assert 'rate_limited' in first.stdout and 'run the same command with --key ci-matrix' in first.stdout

        waited = cli(*MATRIX, *AXES, '--key', 'ci-matrix', '--wait', '--json')  # waits out the window, same key
        assert waited.code == Exit.OK, waited.stdout + waited.stderr
        batch = waited.json()
        assert batch['status'] == 'admitted' and [c['replayed'] for c in batch['children']] == [True] * 3 + [False]
        with server.services.engine.connect() as conn:
            made = conn.execute(text('SELECT count(*) FROM run WHERE batch_id = :b'), {'b': batch['id']}).scalar()
        assert made == 4

        shown = cli('runs', 'batch', batch['id'])
        assert shown.code == 0 and 'Runs: 4 queued.' in shown.stdout
        for item in batch['children']:
            assert item['run']['id'] in shown.stdout


def test_all_or_nothing_and_the_options_a_matrix_cannot_take(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with served(settings_factory, repo_factory, global_run_cap=0, rate_limit_runs=1000) as (server, cli):
        refused = cli(*MATRIX, *AXES, '--all-or-nothing', '--json')  # max_concurrent_runs 2: four do not fit
        assert refused.code == Exit.REFUSED
        errors = [c['problem']['error'] for c in refused.json()['children']]
        assert errors == ['sibling_refused', 'sibling_refused', 'concurrency_limit', 'concurrency_limit']
        with server.services.engine.connect() as conn:
            assert conn.execute(text('SELECT count(*) FROM run')).scalar() == 0

        one = cli(*MATRIX, '--matrix', 'framework=python,node', '--depth', 'deep', '--all-or-nothing', '--json')
        assert one.code == Exit.OK and one.json()['summary']['admitted'] == 2

        assert cli(*MATRIX, *AXES, '--in', '10m').code == Exit.USAGE
        assert cli(*MATRIX, '--matrix', 'colour=red', '--framework', 'go').code == Exit.USAGE
        assert cli(*MATRIX, '--all-or-nothing', '--depth', 'deep', '--framework', 'go').code == Exit.USAGE
        bad = cli(*MATRIX, '--matrix', 'depth=huge', '--framework', 'go')
        assert (
            bad.code == Exit.USAGE and 'matrix.depth_level' not in bad.stdout and "'huge' is not allowed" in bad.stderr
        )
        assert cli('runs', 'batch', 'bat_nothing').code == Exit.NOT_FOUND


def test_an_axis_left_out_of_the_matrix_takes_the_projects_first_as_a_plain_trigger_does(
    settings_factory, repo_factory
) -> None:  # noqa: ANN001
    """`runs trigger P --matrix depth=a,b` without --framework once exited 2 ("the matrix needs --framework"), while
    `runs trigger P` takes the project's first framework; without --branch, its base branch."""
    with served(settings_factory, repo_factory, global_run_cap=0, rate_limit_runs=1000) as (server, cli):
        with server.client() as client:
            changed = {
                'target_frameworks': ['node', 'python'],
                'depth_levels': ['standard', 'shallow', 'deep'],
                'max_concurrent_runs': 10,
            }
            assert client.patch('/api/projects/proj', json=changed).status_code == 200
        depths = cli('runs', 'trigger', 'proj', '--matrix', 'depth=shallow,deep', '--json')
        assert depths.code == Exit.OK, depths.stdout + depths.stderr
        batch = depths.json()
        assert batch['branch'] == 'main'
        cells = [(c['depth_level'], c['target_framework']) for c in batch['children']]
        assert cells == [('shallow', 'node'), ('deep', 'node')]
        assert all(c['run']['branch_name'] == 'main' for c in batch['children'])

        frameworks = cli('runs', 'trigger', 'proj', '-b', 'feature/x', '--matrix', 'framework=python', '--json')
        assert frameworks.code == Exit.OK, frameworks.stdout + frameworks.stderr
        [only] = frameworks.json()['children']
        assert (only['depth_level'], only['target_framework']) == ('standard', 'python')


def test_rerun_failed_retries_the_combinations_that_did_not_succeed(settings_factory, repo_factory) -> None:  # noqa: ANN001
    fails_deep = {'run.sh': '#!/bin/sh\n[ "$RUNBOARD_DEPTH_LEVEL" = deep ] && exit 1\necho fine\n'}
    with served(settings_factory, repo_factory, branches={'main': fails_deep}, rate_limit_runs=1000) as (server, cli):
        with server.client() as client:
            assert client.patch('/api/projects/proj', json={'max_concurrent_runs': 10}).status_code == 200
            batch = cli(*MATRIX, *AXES, '--json').json()
            first = {(c['depth_level'], c['target_framework']): c['run']['id'] for c in batch['children']}
            for run_id in first.values():
                wait_for_status(client, run_id, ('succeeded', 'failed'))

            nothing_yet = cli('runs', 'batch', batch['id'])
            assert nothing_yet.code == Exit.OK and 'Runs: 2 failed, 2 succeeded.' in nothing_yet.stdout
            rerun = cli('runs', 'batch', batch['id'], '--rerun-failed', '--json')
            assert rerun.code == Exit.OK, rerun.stderr
            for framework in ('python', 'node'):
                assert f'{first[("deep", framework)]}: retried as run_' in rerun.stderr
            now = {(c['depth_level'], c['target_framework']): c['run'] for c in rerun.json()['children']}
            assert {cell: now[cell]['retry_of'] for cell in now} == {
                ('shallow', 'python'): None,
                ('shallow', 'node'): None,
                ('deep', 'python'): first[('deep', 'python')],
                ('deep', 'node'): first[('deep', 'node')],
            }
            for run in now.values():
                wait_for_status(client, run['id'], ('succeeded', 'failed'))
            # the retries failed too: a new set of runs under a new key, so they are retried again
            again = cli('runs', 'batch', batch['id'], '--rerun-failed')
            assert again.code == Exit.OK and again.stdout.count('retried as run_') == 2
            assert cli('runs', 'batch', batch['id'], '--stop-all', '--rerun-failed').code == Exit.USAGE


def test_stop_all_stops_the_combinations_still_queued_or_running(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with served(settings_factory, repo_factory, global_run_cap=0, rate_limit_runs=1000) as (server, cli):
        with server.client() as client:
            assert client.patch('/api/projects/proj', json={'max_concurrent_runs': 10}).status_code == 200
        batch = cli(*MATRIX, *AXES, '--json').json()  # four runs, queued (no run slot)
        stopped = cli('runs', 'batch', batch['id'], '--stop-all')
        assert stopped.code == Exit.OK, stopped.stderr
        assert stopped.stdout.count(': stop requested') == 4 and 'Runs: 4 stopped.' in stopped.stdout
        nothing = cli('runs', 'batch', batch['id'], '--stop-all')
        assert nothing.code == Exit.OK and 'Nothing to stop' in nothing.stderr
