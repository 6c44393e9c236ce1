"""Team mode with executor=celery in Chromium: the server is stopped (SIGTERM, as a deploy does) while a
run executes on a `runboard worker`; the run goes on, and a browser tab opened on the restarted server
shows its earlier output, keeps streaming the new lines and ends `succeeded`. The Workers page lists the
worker with its labels and busy slot; an administrator drains and undrains it, and removes a stopped worker after
a confirmation (a person who is no administrator sees no Remove)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from app.config import Settings
from app.infra.db import dispose, make_engine
from app.models import Role
from app.services.execution import workers
from app.services.identity.accounts import create_user, ensure_team
from tests.helpers.backends import REDIS_URL, pg_schema, require_team_services
from tests.helpers.e2e import screenshot
from tests.helpers.repos import make_repo
from tests.helpers.servers import app_process
from tests.helpers.workers import runboard_worker

pytestmark = pytest.mark.e2e


def script(gate: Path) -> str:
    """24 lines, half a second apart; after line 12 it waits for `gate`, so however long the restart takes
    on a busy machine, the run is still going when the restarted server is asked and the tab opens."""
    return (
        'for i in $(seq 1 12); do echo "line $i"; sleep 0.5; done\n'
        f'while [ ! -f {gate} ]; do sleep 0.1; done\n'
        'for i in $(seq 13 24); do echo "line $i"; sleep 0.5; done\n'
    )


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / 'gates' / 'gate'  # the run sandbox shows this folder (RUNBOARD_SANDBOX_READ_ONLY_PATHS)
    path.parent.mkdir()
    yield path
    path.touch()  # a test that failed half-way leaves no run waiting on it


def _lines(api: httpx.Client, run_id: str) -> list[str]:
    return [e['text'] for e in api.get(f'/api/runs/{run_id}').json()['events'] if e['type'] == 'output']


def test_a_run_on_a_worker_streams_on_across_a_server_restart(tmp_path: Path, gate: Path, browser) -> None:  # noqa: ANN001
    require_team_services()
    with pg_schema() as url:
        prefix = 'rbtest:' + uuid.uuid4().hex[:10]
        env = {
            'RUNBOARD_DATABASE_URL': url,
            'RUNBOARD_REDIS_URL': REDIS_URL,
            'RUNBOARD_REDIS_PREFIX': prefix,
            'RUNBOARD_DEMO': 'false',
            'RUNBOARD_HEARTBEAT_SECONDS': '1',
            'RUNBOARD_EXECUTOR': 'celery',
            'RUNBOARD_ALLOW_LOCAL_REPOSITORIES': 'true',  # team mode on a local test repository
            'RUNBOARD_SANDBOX_READ_ONLY_PATHS': str(gate.parent),
        }
        settings = Settings(
            database_url=url,
            redis_url=REDIS_URL,
            redis_prefix=prefix,
            heartbeat_seconds=1.0,
            data_dir=tmp_path / 'w',
            sandbox_read_only_paths=str(gate.parent),
        )
        repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': script(gate)}})
        data = tmp_path / 'server'
        with runboard_worker(settings, tmp_path / 'builder-1', labels='linux'):
            with app_process(data, env=env) as server:
                engine = make_engine(url, pool_size=1)
                try:
                    ensure_team(engine, 'ops', 'Ops')
                    _, token = create_user(engine, name='Olga', role=Role.operator, team_ids=['ops'])
                    _, admin_token = create_user(
                        engine, name='Ada', role=Role.operator, team_ids=['ops'], is_admin=True
                    )
                finally:
                    dispose(engine)
                api = httpx.Client(base_url=server['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30)
                project = {
                    'id': 'app',
                    'name': 'App',
                    'repository': str(repo),
                    'command': ['sh', 'run.sh'],
                    'runs_on': ['linux'],
                    'team_id': 'ops',
                }
                assert api.post('/api/projects', json=project).status_code == 201
                body = {'project_id': 'app', 'branch': 'main', 'depth_level': 'shallow', 'target_framework': 'python'}
                run_id = api.post('/api/runs', json=body).json()['id']
                deadline = time.monotonic() + 60
                while 'line 3' not in _lines(api, run_id):
                    assert time.monotonic() < deadline, 'the run never started on the worker'
                    time.sleep(0.2)
            # the server got SIGTERM and is gone; the run goes on on the worker
            with app_process(data, port=server['port'], env=env) as again:
                engine = make_engine(url, pool_size=1)
                try:  # a worker of yesterday's containers, shut down cleanly: stopped
                    workers.register(
                        engine, name='old@ci-1', instance_id='i:o', host='ci-1', pid=1, labels=[], slots=1, version='t'
                    )
                    workers.mark_stopped(engine, 'old@ci-1')
                finally:
                    dispose(engine)
                api = httpx.Client(base_url=again['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30)
                assert api.get(f'/api/runs/{run_id}').json()['status'] == 'running'
                context = browser.new_context(viewport={'width': 1100, 'height': 900})
                try:
                    page = context.new_page()
                    page.goto(f'{again["url"]}/runs/{run_id}')
                    page.locator('[data-testid=token-input] input, input[type=password]').first.fill(token)
                    page.get_by_role('button', name='Sign in').click()
                    header = page.get_by_test_id('run-header')
                    expect(header.locator('[data-status=running]')).to_be_visible(timeout=20_000)
                    output = page.get_by_test_id('output')
                    expect(output).to_contain_text('line 1', timeout=10_000)  # what it printed before the restart
                    shown_at_open = len(_lines(api, run_id))
                    gate.touch()  # the rest of the run, streamed to the open tab
                    expect(output).to_contain_text('line 24', timeout=40_000)  # and what it printed after
                    expect(header.locator('[data-status=succeeded]')).to_be_visible(timeout=20_000)
                    screenshot(page, 'run-across-server-restart.png')

                    page.get_by_test_id('nav-workers').click()
                    row = page.locator('[data-worker^="builder-1@"]')
                    expect(row.locator('[data-state=live]')).to_be_visible(timeout=10_000)
                    expect(row).to_contain_text('linux')
                    expect(row.locator('[data-field=busy]')).to_have_text('0 / 2 busy')
                    # how its runs execute, as the worker said (its own environment decides); the old one never said
                    expect(row.locator('[data-field=runs]')).to_contain_text('runs sandboxed · limits: ')
                    expect(page.locator('[data-worker="old@ci-1"] [data-field=runs]')).to_have_count(0)
                    # Olga is no deployment administrator: no Drain that the server would refuse, and who can
                    expect(page.get_by_test_id('capacity')).to_contain_text('A deployment administrator drains')
                    expect(row.get_by_role('button')).to_have_count(0)
                    expect(page.locator('[data-worker="old@ci-1"] [data-state=stopped]')).to_be_visible()
                    expect(page.get_by_test_id('remove-worker')).to_have_count(0)
                    screenshot(page, 'workers-page.png')
                    admin = browser.new_context(viewport={'width': 1100, 'height': 900}).new_page()
                    admin.goto(f'{again["url"]}/workers')
                    admin.locator('[data-testid=token-input] input, input[type=password]').first.fill(admin_token)
                    admin.get_by_role('button', name='Sign in').click()
                    admin_row = admin.locator('[data-worker^="builder-1@"]')
                    admin_row.get_by_role('button', name=re.compile('^Drain worker')).click()
                    expect(admin_row.locator('[data-state=draining]')).to_be_visible(timeout=10_000)
                    admin_row.get_by_role('button', name=re.compile('^Undrain worker')).click()
                    expect(admin_row.locator('[data-state=live]')).to_be_visible(timeout=10_000)
                    expect(admin.get_by_test_id('capacity')).not_to_contain_text('administrator')
                    expect(admin_row.get_by_test_id('remove-worker')).to_have_count(0)  # live: drained, not removed
                    old = admin.locator('[data-worker="old@ci-1"]')
                    old.get_by_test_id('remove-worker').click()
                    admin.get_by_role('alertdialog').get_by_role('button', name='Remove').click()
                    expect(old).to_have_count(0, timeout=10_000)
                    assert 'old@ci-1' not in [w['name'] for w in api.get('/api/workers').json()['items']]
                    screenshot(admin, 'workers-page-admin.png')
                    admin.context.close()
                finally:
                    context.close()
                done = api.get(f'/api/runs/{run_id}').json()
    assert done['status'] == 'succeeded'
    assert [e['text'] for e in done['events'] if e['type'] == 'output'] == [f'line {i}' for i in range(1, 25)]
    assert [e['text'] for e in done['events'] if e['type'] == 'status'].count('running') == 1  # never restarted
    assert shown_at_open < 24  # the tab was opened while the run still ran
