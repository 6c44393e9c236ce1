"""Artifacts and test reports end to end (docs/artifacts.md), on every backend, with the local store and with the
S3 store (moto's server on loopback): a run that leaves report.html, screens/shot.png and junit.xml in
$RUNBOARD_ARTIFACTS_DIR has them listed with their sizes and downloaded byte for byte; a file past the limit and a
link are refused visibly while the others are kept; its JUnit results answer GET /api/runs/{id}/tests; failures
are marked across the branch's runs; retention removes expired artifacts from the store and the table only; the
run.failed webhook carries the failing tests and the last log lines, in both formats."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from app.infra.db import session_scope
from app.models import utcnow
from app.services.artifacts import retention
from app.services.runs.timeline import timed_sql
from tests.helpers.api import assert_problem, run_body
from tests.helpers.artifacts import add_fixing_branch, artifact_repo, expected, pytest_junit
from tests.helpers.repos import make_repo
from tests.helpers.runs import create_project, trigger, wait_for_status
from tests.helpers.s3 import moto_s3
from tests.helpers.servers import api_server, app_process
from tests.helpers.webhooks import receiver

LIMIT = 200_000  # big.bin (300,000 bytes) is past it; the others fit


@pytest.fixture(params=['local-store', 's3-store'])
def store(request: pytest.FixtureRequest) -> Iterator[dict]:
    if request.param == 'local-store':
        yield {}
        return
    with moto_s3() as s3:
        yield {'artifact_store': s3.url, 'artifact_store_options': s3.options, '_s3': s3}


def settings_with(store: dict, **more) -> dict:  # noqa: ANN003
    return {key: value for key, value in {**store, **more}.items() if not key.startswith('_')}


def test_a_runs_files_are_kept_listed_and_downloaded_byte_for_byte(settings_factory, tmp_path: Path, store) -> None:  # noqa: ANN001
    repo = artifact_repo(tmp_path / 'repo')
    with api_server(settings_factory(**settings_with(store, max_artifact_bytes=LIMIT))) as server:
        with server.client() as client:
            create_project(client, repo)
            run = wait_for_status(client, trigger(client, depth='standard').json()['id'], timeout=60)
            assert run['status'] == 'failed', run
            listing = client.get(f'/api/runs/{run["id"]}/artifacts')
            assert listing.status_code == 200, listing.text
            answer = listing.json()
            items = {item['path']: item for item in answer['items']}
            assert set(items) == {'big.bin', 'junit.xml', 'passwd-link', 'report.html', 'screens/shot.png'}
            for path, body in expected(repo).items():
                assert items[path]['stored'] and items[path]['size'] == len(body), items[path]
                reply = client.get(items[path]['url'])
                assert reply.status_code == 200, reply.text
                assert reply.content == body
                assert 'sandbox' in reply.headers['content-security-policy']
            assert answer['total_bytes'] == sum(len(body) for body in expected(repo).values())
            assert answer['limit_bytes'] == LIMIT

            # past the limit, and a link to the server's files: refused with why, visibly in the run's annotations
            assert not items['big.bin']['stored'] and items['big.bin']['size'] == 300_000
            assert 'artifact limit of 195.3 KB' in items['big.bin']['refused']
            assert not items['passwd-link']['stored'] and 'symbolic link' in items['passwd-link']['refused']
            refusals = [a for a in run['annotations'] if a['title'] == 'Artifact refused']
            assert sorted(a['file'] for a in refusals) == ['big.bin', 'passwd-link']
            said = [e['text'] for e in run['events'] if e['type'] == 'status']  # Runboard's words, not the run's
            assert 'Artifacts: 3 kept' in said
            assert any(line.startswith('Tests: 5 (2 passed, 1 failed, 1 error, 1 skipped)') for line in said)
            log = client.get(f'/api/runs/{run["id"]}/log').text  # the raw log: what the run printed
            assert log.startswith('artifacts go to /') and 'Artifacts: 3' not in log and 'Tests: 5' not in log
            # the refusals are Runboard's annotations: in the log view and the annotations, not lines the run printed
            assert 'Artifact refused' not in log and run['output_lines'] == 1 == log.count('\n')
            assert [e['type'] for e in run['events'] if 'Artifact refused' in e['text']] == ['runboard_annotation'] * 2

            # types and how a browser gets them: the image inline, the HTML sandboxed, ?download=true an attachment
            shot = client.get(items['screens/shot.png']['url'])
            assert shot.headers['content-type'] == 'image/png'
            assert shot.headers['content-disposition'].startswith('inline; filename="shot.png"')
            report = client.get(items['report.html']['url'])
            assert report.headers['content-type'].startswith('text/html')
            assert report.headers['content-security-policy'].startswith('sandbox')
            assert "frame-ancestors 'none'" in report.headers['content-security-policy']
            attachment = client.get(items['report.html']['url'], params={'download': 'true'})
            assert attachment.headers['content-disposition'].startswith('attachment;')

            # a download resumes: HEAD says how big and what ranges, Range sends those bytes alone (206)
            url, body = items['screens/shot.png']['url'], expected(repo)['screens/shot.png']
            head = client.head(url)
            assert head.status_code == 200 and head.content == b''
            assert head.headers['content-length'] == str(len(body)) and head.headers['accept-ranges'] == 'bytes'
            tail = client.get(url, headers={'Range': 'bytes=100-'})
            assert tail.status_code == 206 and tail.content == body[100:]
            assert tail.headers['content-range'] == f'bytes 100-{len(body) - 1}/{len(body)}'
            assert client.get(url, headers={'Range': 'bytes=-10'}).content == body[-10:]
            same = client.get(url, headers={'Range': 'bytes=0-9', 'If-Range': head.headers['etag']})
            assert same.status_code == 206 and same.content == body[:10]
            changed = client.get(url, headers={'Range': 'bytes=0-9', 'If-Range': '"another"'})
            assert changed.status_code == 200 and changed.content == body  # not the file the range was of
            past = client.get(url, headers={'Range': f'bytes={len(body)}-'})
            assert_problem(past, 416, 'range_not_satisfiable')
            assert past.headers['content-range'] == f'bytes */{len(body)}'

            # refusals of the download are problems with machine codes, never a 500
            base = f'/api/runs/{run["id"]}/artifacts'
            assert_problem(client.get(f'{base}/..%2F..%2Fsecret.key'), 400, 'invalid_artifact_path')
            assert_problem(client.get(f'{base}/screens/..%2F..%2F..%2Fetc%2Fpasswd'), 400, 'invalid_artifact_path')
            assert_problem(client.get(f'{base}/%2Fetc%2Fpasswd'), 400, 'invalid_artifact_path')
            assert_problem(client.get(f'{base}/nope.txt'), 404, 'not_found')
            assert_problem(client.get(f'{base}/big.bin'), 404, 'artifact_not_stored')
            assert_problem(client.get('/api/runs/run_nope/artifacts'), 404, 'not_found')
            assert_problem(client.get('/api/runs/run_nope/tests'), 404, 'not_found')

            tests = client.get(f'/api/runs/{run["id"]}/tests').json()
            assert tests['has_report'] and tests['reports'] == ['junit.xml']
            assert tests['totals'] == {
                'total': 5,
                'passed': 2,
                'failed': 1,
                'errors': 1,
                'skipped': 1,
                'duration_seconds': 4.26,
            }
            failures = {(f['test_id'], f['status']): f for f in tests['failures']}
            assert set(failures) == {('tests.test_api::test_a', 'failed'), ('tests.test_api::test_b', 'error')}
            a = failures[('tests.test_api::test_a', 'failed')]
            assert a['message'] == 'assert 401 == 200' and 'E   assert 401 == 200' in a['trace']
            assert a['mark'] is None  # the project's first run: no earlier results say it ever passed
            assert [s['test_id'] for s in tests['skipped']] == ['tests.test_db::test_e']
            # test_e took no time (a skip): no place among the slowest
            assert [s['name'] for s in tests['slowest']] == ['test_d', 'test_b', 'test_a', 'test_c']
        if '_s3' in store:  # the files are in the bucket (the worker or engine wrote them there, not the data dir)
            fs = store['_s3'].filesystem()
            assert (
                fs.cat(f'{store["_s3"].bucket}/runboard/{run["id"]}/screens/shot.png')
                == expected(repo)['screens/shot.png']
            )
            assert not (server.settings.data_dir / 'artifacts' / run['id']).exists()


def test_every_kept_file_downloads_as_one_zip(settings_factory, tmp_path: Path, store) -> None:  # noqa: ANN001
    """GET /api/runs/{id}/artifacts.zip: the kept files under their paths, byte for byte, the refused ones left out;
    a run that kept nothing, or a file gone from the store before the first byte, is a problem; a file gone from it
    later ends the stream early, so the download fails rather than lacking the file."""
    repo = artifact_repo(tmp_path / 'repo')
    plain = make_repo(tmp_path / 'plain', {'main': {'run.sh': '#!/bin/sh\necho nothing to keep\n'}})
    with api_server(settings_factory(**settings_with(store, max_artifact_bytes=LIMIT))) as server:
        with server.client() as client:
            create_project(client, repo)
            create_project(client, plain, project_id='plain')
            run = wait_for_status(client, trigger(client, depth='standard').json()['id'], timeout=60)
            nothing = wait_for_status(client, trigger(client, 'plain').json()['id'], timeout=60)
            assert nothing['status'] == 'succeeded', nothing

            reply = client.get(f'/api/runs/{run["id"]}/artifacts.zip')
            assert reply.status_code == 200, reply.text
            assert reply.headers['content-type'] == 'application/zip'
            assert reply.headers['content-disposition'] == f'attachment; filename="{run["id"]}-artifacts.zip"'
            with zipfile.ZipFile(io.BytesIO(reply.content)) as archive:
                assert archive.testzip() is None
                assert {name: archive.read(name) for name in archive.namelist()} == expected(repo)  # no big.bin
                members = {info.filename: info for info in archive.infolist()}
            assert members['screens/shot.png'].compress_type == zipfile.ZIP_STORED  # a PNG is compressed already
            assert members['report.html'].compress_type == zipfile.ZIP_DEFLATED
            kept_on = tuple(int(part) for part in run['finished_at'][:10].split('-'))  # when they were kept (UTC)
            assert members['junit.xml'].date_time[:3] == kept_on

            assert_problem(client.get(f'/api/runs/{nothing["id"]}/artifacts.zip'), 404, 'no_artifacts')
            assert_problem(client.get('/api/runs/run_nope/artifacts.zip'), 404, 'not_found')
            assert client.get(f'/api/runs/{run["id"]}/artifacts.zip', headers={'Authorization': ''}).status_code == 401

            # the store loses a file: a later one, a stream that breaks; the first one, a problem before any byte
            artifact_store = server.services.artifact_store
            artifact_store.delete(run['id'], ['screens/shot.png'])
            with client.stream('GET', f'/api/runs/{run["id"]}/artifacts.zip') as broken:
                assert broken.status_code == 200  # junit.xml, the first, is still there: the stream starts
                with pytest.raises(httpx.RemoteProtocolError):
                    broken.read()
            artifact_store.delete(run['id'], ['junit.xml'])
            assert_problem(client.get(f'/api/runs/{run["id"]}/artifacts.zip'), 404, 'artifact_missing')


def test_failures_across_a_branchs_runs_still_failing_and_flaky(settings_factory, tmp_path: Path) -> None:
    repo = artifact_repo(tmp_path / 'repo')
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)

        def marks(depth: str, **variables: str) -> tuple[str, dict[str, tuple[str | None, str | None]]]:
            body = {**run_body(depth=depth), 'variables': variables}
            run = wait_for_status(client, client.post('/api/runs', json=body).json()['id'], timeout=60)
            tests = client.get(f'/api/runs/{run["id"]}/tests').json()
            return run['id'], {f['name']: (f['mark'], f['since_run_id']) for f in tests['failures']}

        first, found = marks('shallow')  # test_a and test_b fail: the first run, nothing to compare with
        assert found == {'test_a': (None, None), 'test_b': (None, None)}
        _, found = marks('shallow')
        assert found == {'test_a': ('still_failing', first), 'test_b': ('still_failing', first)}
        # test_a passes at another depth level on the same commit: it depends on the depth, it is not flaky
        _, found = marks('deep')
        assert found == {'test_b': (None, None)}  # no earlier deep run: no history at that depth
        _, found = marks('shallow')
        assert found == {'test_a': ('still_failing', first), 'test_b': ('still_failing', first)}
        fifth, found = marks('shallow', TEST_A_PASSES='yes')  # test_a passes once at the same depth
        assert found == {'test_b': ('still_failing', first)}
        _, found = marks('shallow')  # and fails again: it passed and failed on one commit, one depth
        assert found == {'test_a': ('flaky', fifth), 'test_b': ('still_failing', first)}

        project = client.get('/api/projects/proj/tests').json()
        flakiest = project['flakiest']
        assert flakiest[0]['test_id'] == 'tests.test_api::test_a' and flakiest[0]['flaky_commits'] == 1
        assert flakiest[0]['failures'] == 4 and flakiest[0]['runs'] == 6
        assert flakiest[1]['test_id'] == 'tests.test_api::test_b' and flakiest[1]['flaky_commits'] == 0
        history = [(p['total'], p['failed']) for p in project['history']]
        assert history == [(5, 2), (5, 2), (5, 1), (5, 2), (5, 1), (5, 2)]
        assert_problem(client.get('/api/projects/nope/tests'), 404, 'not_found')


def test_a_branch_is_read_against_its_base_and_a_run_lists_the_tests_it_fixed(settings_factory, tmp_path: Path) -> None:
    # GitLab's merge request test summary: a failure main has too is not the branch's; a pass after a fail is news
    repo = add_fixing_branch(artifact_repo(tmp_path / 'repo'), 'feature/x')  # test_a passes there, test_b fails
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)

        def tests_of(branch: str, depth: str) -> tuple[str, dict]:
            run = wait_for_status(client, trigger(client, branch=branch, depth=depth).json()['id'], timeout=60)
            return run['id'], client.get(f'/api/runs/{run["id"]}/tests').json()

        def marks(tests: dict, kind: str = 'failures') -> dict[str, tuple[str | None, str | None]]:
            return {case['name']: (case['mark'], case['since_run_id']) for case in tests[kind]}

        on_main, tests = tests_of('main', 'shallow')  # test_a and test_b fail
        assert marks(tests) == {'test_a': (None, None), 'test_b': (None, None)}  # the first run: no history
        assert (tests['fixed'], tests['base_branch'], tests['compared_with']) == ([], None, None)

        first_on_branch, tests = tests_of('feature/x', 'shallow')  # compared with main: test_b fails there too
        assert marks(tests) == {'test_b': ('failing_on_base', on_main)} and tests['base_branch'] == 'main'
        assert marks(tests, 'fixed') == {'test_a': ('fixed', on_main)} and tests['compared_with'] == on_main
        assert tests['fixed'][0]['status'] == 'passed' and tests['fixed'][0]['test_id'] == 'tests.test_api::test_a'

        _, tests = tests_of('feature/x', 'shallow')  # the branch's own previous run comes first now
        assert marks(tests) == {'test_b': ('still_failing', first_on_branch)}
        assert tests['fixed'] == [] and tests['compared_with'] == first_on_branch

        # another depth level runs other tests: it is not compared with the shallow runs (main has no deep run yet)
        _, tests = tests_of('feature/x', 'deep')
        assert tests['compared_with'] is None and tests['fixed'] == []
        assert marks(tests) == {'test_b': (None, None)}  # nor are its failures: the first deep run anywhere

        _, tests = tests_of('main', 'shallow')  # main's own history only
        assert marks(tests) == {'test_a': ('still_failing', on_main), 'test_b': ('still_failing', on_main)}
        assert tests['base_branch'] is None and tests['compared_with'] == on_main and tests['fixed'] == []


SUMMARY_SCRIPT = """#!/bin/sh
echo '### Coverage: 91 %' >> "$RUNBOARD_SUMMARY"
echo 'a report' > "$RUNBOARD_ARTIFACTS_DIR/report.txt"
"""


def test_retention_keeps_a_runs_summary_with_the_run(settings_factory, tmp_path: Path, store) -> None:  # noqa: ANN001
    """As GitHub keeps a run's job summaries after its artifacts expire: the summary is what the run said of itself,
    shown above its log. The rest expired (the zip too); the summary is still read and downloaded."""
    repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': SUMMARY_SCRIPT}})
    with api_server(settings_factory(**settings_with(store, artifact_retention_days=30))) as server:
        with server.client() as client:
            create_project(client, repo)
            run = wait_for_status(client, trigger(client).json()['id'], timeout=60)
            assert run['status'] == 'succeeded', run
            with session_scope(server.services.engine) as session:
                session.connection().execute(
                    timed_sql('UPDATE artifact SET created_at = :t WHERE run_id = :r', binds=('t',)),
                    {'t': utcnow() - timedelta(days=31), 'r': run['id']},
                )
            assert retention.sweep(server.services.engine, server.services.artifact_store, days=30) == 1
            listed = client.get(f'/api/runs/{run["id"]}/artifacts').json()
            assert [item['path'] for item in listed['items']] == ['summary.md'] and listed['removed_at']
            summary = client.get(listed['items'][0]['url'])
            assert summary.status_code == 200 and summary.text == '### Coverage: 91 %\n'
            assert_problem(client.get(f'/api/runs/{run["id"]}/artifacts/report.txt'), 410, 'artifacts_expired')
            assert_problem(client.get(f'/api/runs/{run["id"]}/artifacts.zip'), 410, 'artifacts_expired')


def test_retention_removes_expired_artifacts_from_the_store_and_the_table_only(
    settings_factory, tmp_path: Path, store
) -> None:  # noqa: ANN001
    repo = artifact_repo(tmp_path / 'repo')
    with api_server(settings_factory(**settings_with(store, artifact_retention_days=30))) as server:
        with server.client() as client:
            create_project(client, repo)
            old = wait_for_status(client, trigger(client).json()['id'], timeout=60)
            new = wait_for_status(client, trigger(client).json()['id'], timeout=60)
            services = server.services
            with session_scope(services.engine) as session:  # the first run's artifacts are 31 days old
                session.connection().execute(
                    timed_sql('UPDATE artifact SET created_at = :t WHERE run_id = :r', binds=('t',)),
                    {'t': utcnow() - timedelta(days=31), 'r': old['id']},
                )
            store_of = services.artifact_store
            assert store_of.exists(old['id'], 'report.html')
            # two servers sweeping at once: each row goes once, each file once, neither sweep fails
            with ThreadPoolExecutor(2) as pool:
                swept = list(pool.map(lambda _: retention.sweep(services.engine, store_of, days=30), range(2)))
            assert sum(swept) == 3
            assert retention.sweep(services.engine, store_of, days=30) == 0  # a later sweep finds nothing
            listed = client.get(f'/api/runs/{old["id"]}/artifacts').json()
            assert listed['items'] == [] and listed['removed_at'].startswith(utcnow().date().isoformat())
            assert not store_of.exists(old['id'], 'report.html')
            # they expired (GitHub answers an expired artifact 410 too), which is not a run that kept nothing
            assert_problem(client.get(f'/api/runs/{old["id"]}/artifacts/report.html'), 410, 'artifacts_expired')
            assert_problem(client.get(f'/api/runs/{old["id"]}/artifacts.zip'), 410, 'artifacts_expired')
            # nothing else went: the newer run's files, the old run, its log and its test results
            assert client.get(f'/api/runs/{new["id"]}/artifacts').json()['removed_at'] is None
            kept = client.get(f'/api/runs/{new["id"]}/artifacts').json()['items']
            assert [i['path'] for i in kept] == ['junit.xml', 'report.html', 'screens/shot.png']
            assert client.get(kept[1]['url']).content == expected(repo)['report.html']
            again = client.get(f'/api/runs/{old["id"]}').json()
            assert again['status'] == 'failed' and again['output_lines'] == old['output_lines']
            assert client.get(f'/api/runs/{old["id"]}/tests').json()['totals']['total'] == 5
            if '_s3' not in store:
                assert not (server.settings.data_dir / 'artifacts' / old['id']).exists()  # no empty folders left


@pytest.mark.parametrize('fmt', ['runboard', 'slack'])
def test_the_failed_runs_webhook_carries_its_failing_tests_and_last_log_lines(
    settings_factory, tmp_path: Path, fmt: str
) -> None:
    fast = dict(notification_poll_seconds=0.2, webhook_allowed_hosts='loopback')
    repo = artifact_repo(tmp_path / 'repo')
    with receiver() as rx, api_server(settings_factory(**fast)) as server, server.client() as client:
        create_project(client, repo)
        rule = {'url': rx.url, 'events': ['run.failed'], 'format': fmt}
        assert client.post('/api/projects/proj/notifications', json=rule).status_code == 201
        first = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        run = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        # deliveries go out side by side: which is which by the run they name
        first_body, body = sorted((json.loads(r.body) for r in rx.wait_for(2)), key=lambda b: run['id'] in str(b))
        if fmt == 'runboard':
            tests = body['run']['tests']
            assert body['run']['id'] == run['id'] and tests['failed'] == 2 and tests['total'] == 5
            # each with its mark, as the Tests tab shows it: both failed in the first run too
            assert [(t['test_id'], t['message'], t['mark'], t['since_run_id']) for t in tests['failing']] == [
                ('tests.test_api::test_a', 'assert 401 == 200', 'still_failing', first['id']),
                ('tests.test_api::test_b', "KeyError: 'x'", 'still_failing', first['id']),
            ]
            marks = [t['mark'] for t in first_body['run']['tests']['failing']]
            assert marks == [None, None]  # the project's first run: no earlier results to call them new against
            tail = body['run']['log_tail']  # the run's own last lines: Runboard's notes on them are not among them
            assert len(tail) == 1 and tail[0].startswith('artifacts go to /')
        else:
            text_ = body['text']
            assert 'tests.test_api::test_a` _still failing_ — assert 401 == 200' in text_
            assert 'tests.test_api::test_a` — assert 401 == 200' in first_body['text']  # no history: no mark
            assert '2 of 5 tests failed' in text_
            assert 'artifacts go to /' in text_  # the last log lines, in a code block
        assert run['status'] == 'failed'
        assert run['output_lines'] == 1  # "1 printed by the run" under its log, as the script printed


def test_deleting_a_project_takes_its_artifacts_out_of_the_store(settings_factory, tmp_path: Path) -> None:
    repo = artifact_repo(tmp_path / 'repo')
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        store_of = server.services.artifact_store
        assert store_of.exists(run['id'], 'screens/shot.png')
        assert client.delete('/api/projects/proj').status_code == 204
        assert not store_of.exists(run['id'], 'screens/shot.png')
        assert_problem(client.get(f'/api/runs/{run["id"]}/artifacts'), 404, 'not_found')


COVERAGE_SCRIPT = """#!/bin/sh
cat > "$RUNBOARD_ARTIFACTS_DIR/coverage.xml" <<XML
<?xml version="1.0" ?>
<coverage version="7.6" line-rate="0.75" lines-covered="$COVERED" lines-valid="4"><packages/></coverage>
XML
"""


def test_a_runs_coverage_is_read_from_its_cobertura_report_and_compared(settings_factory, tmp_path: Path) -> None:
    # GitLab's coverage figure and its change in a merge request, without a JUnit report in sight
    main = COVERAGE_SCRIPT.replace('#!/bin/sh\n', '#!/bin/sh\nCOVERED=3\n')
    better = COVERAGE_SCRIPT.replace('#!/bin/sh\n', '#!/bin/sh\nCOVERED=4\n')
    repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': main}, 'feature/x': {'run.sh': better}})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)

        def coverage_of(branch: str) -> tuple[dict, dict]:
            run = wait_for_status(client, trigger(client, branch=branch).json()['id'], timeout=60)
            tests = client.get(f'/api/runs/{run["id"]}/tests').json()
            assert tests['has_report'] is False  # no JUnit: the coverage is there all the same
            return run, tests['coverage']

        first, covered = coverage_of('main')
        assert covered == {
            'percent': 75.0,
            'lines_covered': 3,
            'lines_valid': 4,
            'reports': ['coverage.xml'],
            'compared_with': None,
            'change': None,
        }
        said = [e['text'] for e in first['events'] if e['type'] == 'status']
        assert 'Coverage: 75.00 % (3 of 4 lines) from coverage.xml' in said
        second, covered = coverage_of('main')
        assert (covered['compared_with'], covered['change']) == (first['id'], 0.0)
        _, covered = coverage_of('feature/x')  # its first run: compared with main's last
        assert (covered['percent'], covered['compared_with'], covered['change']) == (100.0, second['id'], 25.0)
        # the project's coverage is its base branch's, run by run (the feature branch's 100 % is not main's)
        project = client.get('/api/projects/proj/tests').json()
        assert project['coverage_branch'] == 'main' and project['history'] == []
        assert [(p['run_id'], p['percent'], p['depth_level']) for p in project['coverage']] == [
            (first['id'], 75.0, first['depth_level']),
            (second['id'], 75.0, second['depth_level']),
        ]

        plain = make_repo(tmp_path / 'plain', {'main': {'run.sh': '#!/bin/sh\necho no reports\n'}})
        create_project(client, plain, project_id='plain')
        run = wait_for_status(client, trigger(client, 'plain').json()['id'], timeout=60)
        assert client.get(f'/api/runs/{run["id"]}/tests').json()['coverage'] is None


def test_a_broken_download_from_the_ui_resumes_where_it_broke(tmp_path: Path) -> None:
    """A browser resuming a download through the UI's own address (/run-artifacts, `python main.py` serving both)
    sends `Range` and `If-Range` with the ETag it was given: it gets the rest of the file (206, `Content-Range`),
    not the whole file again; an ETag of another file gets it whole (200), and a range past the end a 416 naming
    the size. The sandbox's policy forbids framing once. (The UI passes the API's answer on whatever the backend:
    local mode, whose browser the start link signs in, on SQLite.)"""
    repo = artifact_repo(tmp_path / 'repo')
    stored = expected(repo)['screens/shot.png']
    data = tmp_path / 'data'
    with app_process(data, env={'RUNBOARD_DEMO': 'false'}) as server:
        token = json.loads((data / 'credentials.json').read_text())['token']
        with httpx.Client(base_url=server['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30) as api:
            create_project(api, repo)
            run = wait_for_status(api, trigger(api, depth='shallow').json()['id'], timeout=60)
        # the browser that opened the start link, as a person's
        with httpx.Client(base_url=server['url'], cookies=server['cookies'], timeout=30) as browser:
            url = f'/run-artifacts/{run["id"]}/screens/shot.png?download=true'
            whole = browser.get(url)
            assert whole.status_code == 200, whole.text
            assert whole.content == stored and whole.headers['accept-ranges'] == 'bytes'
            assert whole.headers['content-security-policy'].count('frame-ancestors') == 1
            etag = whole.headers['etag']

            rest = browser.get(url, headers={'Range': 'bytes=100-', 'If-Range': etag})
            assert rest.status_code == 206, rest.text
            assert rest.headers['content-range'] == f'bytes 100-{len(stored) - 1}/{len(stored)}'
            assert rest.headers['content-length'] == str(len(stored) - 100)
            assert (rest.headers['etag'], rest.content) == (etag, stored[100:])

            changed = browser.get(url, headers={'Range': 'bytes=100-', 'If-Range': '"another-file"'})
            assert (changed.status_code, changed.content) == (200, stored)
            past = browser.get(url, headers={'Range': f'bytes={len(stored) + 10}-'})
            assert (past.status_code, past.headers['content-range']) == (416, f'bytes */{len(stored)}')


def test_a_failed_tests_output_is_answered_with_its_failure(settings_factory, tmp_path: Path) -> None:
    """The run leaves the report pytest wrote with `-o junit_logging=all`: GET /api/runs/{id}/tests answers the failed
    test's <system-out> (its last 16 KiB, colour codes removed) and <system-err> with its failure."""
    xml = pytest_junit(tmp_path / 'suite')
    script = '#!/bin/sh\ncp junit.xml "$RUNBOARD_ARTIFACTS_DIR/junit.xml"\nexit 1\n'
    repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': script, 'junit.xml': xml}})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        tests = client.get(f'/api/runs/{run["id"]}/tests').json()
        assert tests['totals']['failed'] == 1 and tests['totals']['passed'] == 1
        [failure] = tests['failures']
        assert failure['test_id'] == 'test_printing::test_prints_then_fails'
        assert failure['system_out'].startswith('[… cut: its last 16 KiB]\n')
        assert failure['system_out'].rstrip().endswith('retrying the db\nlast line before the failure')
        assert '#x1B' not in failure['system_out']
        assert 'warning: retrying' in failure['system_err']
