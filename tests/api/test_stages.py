"""Stages in the API, on every backend: a run printing `::stage::` markers answers its stages with result
and duration in GET /api/runs/{id} and in the runs list, live while it runs, and bounded per run."""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import text

from app.services.runs.stage_results import STORED_STAGES
from tests.helpers.runs import create_project, serving_held_run, shell_script, trigger, wait_for_status
from tests.helpers.servers import api_server

PIPELINE = (
    'echo "::stage:: install"\necho resolving\nsleep 0.5\necho "::stage:: test"\necho "test_login ... FAILED"\nexit 1'
)


def moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def listed(client, run_id: str) -> dict:  # noqa: ANN001
    page = client.get('/api/runs', params={'limit': 50}).json()
    return next(item for item in page['items'] if item['id'] == run_id)


def test_stages_have_results_and_durations_in_the_run_and_the_list(settings_factory, repo_factory) -> None:
    repo = repo_factory({'main': shell_script(PIPELINE)})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run = wait_for_status(client, trigger(client).json()['id'])
        assert run['status'] == 'failed'
        checkout, install, test = run['stages']
        assert checkout['name'].startswith('checkout main @ ') and checkout['result'] == 'succeeded'
        assert (install['name'], install['result']) == ('install', 'succeeded')
        assert (test['name'], test['result']) == ('test', 'failed')
        assert run['stage_count'] == 3
        # each stage ends where the next begins; the last one where the run ended
        assert checkout['ended_at'] == install['started_at'] and install['ended_at'] == test['started_at']
        assert moment(test['ended_at']) == moment(run['finished_at'])
        # it slept 0.5 s before the next marker (times are when a batch is stored: every 50 ms, give or take)
        assert install['seconds'] >= 0.25
        for stage in run['stages']:
            span = (moment(stage['ended_at']) - moment(stage['started_at'])).total_seconds()
            assert abs(stage['seconds'] - span) < 0.01
        # each stage points at its marker in the timeline
        markers = {e['seq']: e['text'] for e in run['events'] if e['type'] == 'stage'}
        assert {s['seq']: s['name'] for s in run['stages']} == markers
        # the runs list answers the same stages
        assert listed(client, run['id'])['stages'] == run['stages']


def test_the_last_stage_runs_until_the_run_ends(settings_factory, repo_factory, tmp_path) -> None:
    markers = 'echo "::stage:: build"\necho "::stage:: wait"'
    with serving_held_run(settings_factory, repo_factory, tmp_path, markers) as (client, release):
        run_id = trigger(client).json()['id']
        run = wait_for_status(client, run_id, statuses=('running',))
        deadline = time.monotonic() + 30
        while [s['name'] for s in run['stages']][-1:] != ['wait']:
            assert time.monotonic() < deadline and run['status'] == 'running', run
            time.sleep(0.05)
            run = client.get(f'/api/runs/{run_id}', params={'events_limit': 0}).json()
        waiting = run['stages'][-1]
        assert waiting['result'] == 'running' and waiting['ended_at'] is None
        assert [s['result'] for s in run['stages'][:-1]] == ['succeeded', 'succeeded']
        assert listed(client, run_id)['stages'][-1]['result'] == 'running'
        release.touch()
        run = wait_for_status(client, run_id)
        assert run['status'] == 'succeeded'
        assert [s['result'] for s in run['stages']] == ['succeeded'] * 3
        assert run['stages'][-1]['seconds'] >= waiting['seconds']


def test_a_flood_of_markers_is_counted_but_only_the_first_are_kept_and_deleted_with_the_project(
    settings_factory, repo_factory
) -> None:
    flood = 120
    script = f'i=0; while [ $i -lt {flood} ]; do echo "::stage:: step $i"; i=$((i+1)); done\nexit 2'
    repo = repo_factory({'main': shell_script(script)})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run = wait_for_status(client, trigger(client).json()['id'])
        assert run['status'] == 'failed'
        assert run['stage_count'] == flood + 1  # with the checkout
        assert len(run['stages']) == STORED_STAGES
        assert run['stages'][1]['name'] == 'step 0'
        # the last stage shown ended when the next marker (not shown) began: it succeeded
        assert run['stages'][-1]['result'] == 'succeeded' and run['stages'][-1]['ended_at'] is not None
        with server.services.engine.connect() as conn:
            rows = conn.execute(text('SELECT count(*) FROM runstage WHERE run_id = :id'), {'id': run['id']})
            assert rows.scalar_one() == STORED_STAGES + 1
        assert len(listed(client, run['id'])['stages']) == STORED_STAGES
        # deleting the project takes its runs' stages with them
        assert client.delete('/api/projects/proj').status_code == 204
        with server.services.engine.connect() as conn:
            assert conn.execute(text('SELECT count(*) FROM runstage')).scalar_one() == 0


def test_a_run_without_markers_has_its_checkout_and_run_stages(settings_factory, repo_factory) -> None:
    repo = repo_factory({'main': shell_script('echo plain')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        reply = trigger(client)
        assert reply.json()['stages'] == [] and reply.json()['stage_count'] == 0  # admitted: not started yet
        run = wait_for_status(client, reply.json()['id'])
        assert [(s['result'], s['name'][:8]) for s in run['stages']] == [
            ('succeeded', 'checkout'),
            ('succeeded', 'run'),
        ]
        assert moment(run['stages'][-1]['ended_at']) == moment(run['finished_at'])


def test_every_write_path_keeps_stages(settings_factory, repo_factory) -> None:
    """Small batches go through the ORM insert, big ones through COPY (PostgreSQL) or executemany
    (SQLite): each keeps its stage rows, in the batch's transaction, numbered across batches."""
    from app.infra.db import session_scope
    from app.services.runs.timeline import COPY_FROM, append_events

    repo = repo_factory({'main': shell_script('echo queued')})
    with api_server(settings_factory(global_run_cap=0)) as server, server.client() as client:
        create_project(client, repo)
        run_id = trigger(client).json()['id']
        big = [('output', f'line {i}') for i in range(COPY_FROM)] + [('stage', 'big'), ('output', 'after')]
        for batch in ([('stage', 'small'), ('output', 'x')], [('output', 'no stage here')], big):
            with session_scope(server.services.engine) as session:
                append_events(session.connection(), run_id, batch)
        run = client.get(f'/api/runs/{run_id}').json()
        assert [(s['name'], s['result']) for s in run['stages']] == [('small', 'succeeded'), ('big', 'running')]
        assert run['stage_count'] == 2
        seqs = {e['text']: e['seq'] for e in run['events'] if e['type'] == 'stage'}
        assert [s['seq'] for s in run['stages']] == [seqs['small'], seqs['big']]
