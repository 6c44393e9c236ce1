"""Log retention on every backend (docs/pipelines.md, "Output"): the output of a run that ended longer ago than
RUNBOARD_LOG_RETENTION_DAYS leaves the database; the run says when, keeps its status, stage and annotation lines,
its raw log answers 410 `log_removed` instead of a log with lines missing, a newer run keeps its whole log, two
servers sweeping at once remove each log once, and `runboard runs logs` says what happened. A download reads one
snapshot: a sweep (or a delete) while it streams changes nothing of what it answers."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from app.infra.db import session_scope
from app.models import utcnow
from app.services.identity.accounts import Principal
from app.services.runs import log_retention
from app.services.runs import reads as run_reads
from app.services.runs.timeline import append_events, timed_sql
from tests.helpers.api import assert_problem, run_body
from tests.helpers.cli import run_cli
from tests.helpers.runs import create_project, shell_script, trigger, wait_for_status
from tests.helpers.servers import api_server

PRINTS = shell_script(
    'echo "::stage:: build"\n'
    'echo "::group::compiler output"\n'
    'echo "compiling 1"\n'
    'echo "::endgroup::"\n'
    'echo "::warning file=app.py,line=3::slow import"\n'
    'echo "built"'
)


def types_of(client, run_id: str) -> set[str]:  # noqa: ANN001
    return {event['type'] for event in client.get(f'/api/runs/{run_id}/events').json()}


def test_old_runs_lose_their_output_and_say_so(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': PRINTS})
    with api_server(settings_factory(log_retention_days=30)) as server, server.client() as client:
        create_project(client, repo)
        old = wait_for_status(client, trigger(client, key='old').json()['id'], timeout=60)
        new = wait_for_status(client, trigger(client, key='new').json()['id'], timeout=60)
        assert old['status'] == new['status'] == 'succeeded'
        assert types_of(client, old['id']) >= {'status', 'stage', 'group', 'endgroup', 'output', 'annotation'}
        engine = server.services.engine
        with session_scope(engine) as session:  # the first run ended 31 days ago
            session.connection().execute(
                timed_sql('UPDATE run SET finished_at = :t WHERE id = :r', binds=('t',)),
                {'t': utcnow() - timedelta(days=31), 'r': old['id']},
            )
        assert log_retention.sweep(engine, days=0) == 0  # off: nothing goes

        # two servers sweeping at once: the log goes once, neither sweep fails
        with ThreadPoolExecutor(2) as pool:
            swept = list(pool.map(lambda _: log_retention.sweep(engine, days=30), range(2)))
        assert sorted(swept) == [0, 1]
        assert log_retention.sweep(engine, days=30) == 0  # done: nothing more

        run = client.get(f'/api/runs/{old["id"]}').json()
        assert run['log_removed_at'] is not None and run['status'] == 'succeeded'
        assert [stage['name'] for stage in run['stages']][-1] == 'build'  # after Runboard's checkout stage
        assert [a['message'] for a in run['annotations']] == ['slow import']
        assert types_of(client, old['id']) == {'status', 'stage', 'annotation'}
        assert_problem(client.get(f'/api/runs/{old["id"]}/log'), 410, 'log_removed')

        kept = client.get(f'/api/runs/{new["id"]}')
        assert kept.json()['log_removed_at'] is None
        log = client.get(f'/api/runs/{new["id"]}/log')
        assert log.status_code == 200 and 'compiling 1\n' in log.text and 'built\n' in log.text

        said = run_cli(server.base_url, server.token, 'runs', 'logs', old['id'])
        assert said.code == 0, said
        assert 'Output removed on' in said.stderr and 'log retention' in said.stderr
        assert 'compiling 1' not in said.stdout and 'succeeded' in said.stdout
        shown = run_cli(server.base_url, server.token, 'runs', 'show', old['id'])
        assert shown.code == 0 and re.search(r'Log\s+output removed .* \(log retention\)', shown.stdout), shown
        raw = run_cli(server.base_url, server.token, 'runs', 'logs', old['id'], '--raw')
        assert raw.code != 0 and 'log_removed' in raw.stderr + raw.stdout
        whole = run_cli(server.base_url, server.token, 'runs', 'logs', new['id'])
        assert whole.code == 0 and 'compiling 1' in whole.stdout and 'Output removed' not in whole.stderr


def ended_days_ago(engine, run_id: str, days: int) -> None:  # noqa: ANN001
    with session_scope(engine) as session:
        session.connection().execute(
            timed_sql('UPDATE run SET finished_at = :t WHERE id = :r', binds=('t',)),
            {'t': utcnow() - timedelta(days=days), 'r': run_id},
        )


def test_a_project_may_keep_its_logs_longer_or_shorter_than_the_server(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': PRINTS})
    with api_server(settings_factory(log_retention_days=30)) as server, server.client() as client:
        create_project(client, repo, project_id='keeps', log_retention_days=60)
        create_project(client, repo, project_id='plain')
        assert client.get('/api/projects/plain').json()['log_retention_days'] is None  # the server's
        engine = server.services.engine
        ran = {}
        for project, key, days in (('keeps', 'k40', 40), ('keeps', 'k61', 61), ('plain', 'p40', 40)):
            reply = client.post(
                '/api/runs', json={**run_body(project), 'branch': 'main'}, headers={'Idempotency-Key': key}
            )
            ran[key] = wait_for_status(client, reply.json()['id'], timeout=60)['id']
            ended_days_ago(engine, ran[key], days)
        assert log_retention.sweep(engine, days=30) == 2
        removed = {key for key, run_id in ran.items() if client.get(f'/api/runs/{run_id}').json()['log_removed_at']}
        assert removed == {'k61', 'p40'}  # 40 days is within the project's 60, past the server's 30

        changed = client.patch('/api/projects/keeps', json={'log_retention_days': None})  # the server's again
        assert changed.status_code == 200 and changed.json()['log_retention_days'] is None
        assert log_retention.sweep(engine, days=30) == 1  # k40 now
        assert_problem(client.patch('/api/projects/keeps', json={'log_retention_days': 0}), 422, 'validation')
        cli = run_cli(server.base_url, server.token, 'projects', 'edit', 'keeps', '--log-retention-days', '14')
        assert cli.code == 0, cli
        shown = run_cli(server.base_url, server.token, 'projects', 'show', 'keeps').stdout
        assert re.search(r'Log retention\s+14 days', shown), shown


LONG = 12_000  # lines: more than one batch of the download's reads
OPERATOR = Principal('usr_op', 'op', 'operator', frozenset({'local'}))


def long_run(api) -> tuple[str, str]:  # noqa: ANN001
    """A run that printed LONG lines (with Runboard's own status lines between them) and ended 31 days ago; its id
    and the log a download of it answers."""
    run_id = api.client.post('/api/runs', json=run_body(), headers={'Idempotency-Key': 'long'}).json()['id']
    printed = [f'line {n} ' + 'x' * 40 for n in range(LONG)]
    with session_scope(api.server.services.engine) as session:
        conn = session.connection()
        for start in range(0, LONG, 1000):
            append_events(conn, run_id, [('output', body) for body in printed[start : start + 1000]])
            append_events(conn, run_id, [('status', f'status {start}')])
    ended_days_ago(api.server.services.engine, run_id, 31)
    return run_id, ''.join(f'{body}\n' for body in printed)


@pytest.mark.parametrize(
    'meanwhile',
    [
        'retention',  # the sweep removes the whole output between two reads of the download
        'later_lines',  # something deletes lines the download has not read yet (the last 2,000)
    ],
)
def test_a_download_is_the_log_as_it_was_when_it_began(api, meanwhile: str) -> None:  # noqa: ANN001
    """The server's own retention sweep is off here (log_retention_days 0): the test sweeps when it means to."""
    run_id, whole = long_run(api)
    engine = api.server.services.engine
    download = run_reads.output_lines(engine, OPERATOR, run_id)
    first = next(download)
    assert 0 < len(first) < len(whole)  # the download is under way, not read whole
    if meanwhile == 'retention':
        assert log_retention.sweep(engine, days=30) == 1
    else:
        with session_scope(engine) as session:
            session.connection().execute(
                text("DELETE FROM runevent WHERE run_id = :r AND text LIKE 'line 1____ %'"), {'r': run_id}
            )
    got = (first + b''.join(download)).decode()
    assert got.count('\n') == LONG and got == whole  # whole, as it was when the download began

    later = api.client.get(f'/api/runs/{run_id}/log')  # a download begun afterwards: refused, or what is left
    if meanwhile == 'retention':
        assert_problem(later, 410, 'log_removed')
    else:
        assert later.status_code == 200
        assert later.text == ''.join(f'{line}\n' for line in whole.splitlines()[:10_000])


def test_a_long_log_downloads_whole_with_its_times(api) -> None:  # noqa: ANN001
    run_id, whole = long_run(api)
    reply = api.client.get(f'/api/runs/{run_id}/log')
    assert reply.status_code == 200 and reply.text == whole
    assert reply.headers['content-disposition'] == f'attachment; filename="{run_id}.log"'
    timed = api.client.get(f'/api/runs/{run_id}/log', params={'timestamps': 'true'}).text.splitlines()
    assert len(timed) == LONG and timed[-1].endswith(f' line {LONG - 1} ' + 'x' * 40)
    assert datetime.fromisoformat(timed[0].split(' ', 1)[0]).tzinfo is not None
    assert_problem(api.client.get('/api/runs/run_nope/log'), 404, 'not_found')


def test_a_download_cut_short_ends_its_snapshot(api) -> None:  # noqa: ANN001
    """The download holds a transaction while it streams: a client gone mid-way gives its connection back at once,
    not whenever the garbage collector finds the stream."""
    run_id, _ = long_run(api)
    pool = api.server.services.engine.pool
    with api.client.stream('GET', f'/api/runs/{run_id}/log') as reply:
        next(reply.iter_bytes())
        assert pool.checkedout() >= 1
    deadline = time.monotonic() + 10
    while pool.checkedout():  # the server's own jobs borrow one now and then: each gives it back
        assert time.monotonic() < deadline, pool.status()
        time.sleep(0.05)
