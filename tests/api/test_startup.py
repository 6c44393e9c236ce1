"""Start-up is all or nothing (issue 41): replicas started together on a fresh database all serve, the demo made
once; a start-up that fails ends the process with one line and never answers on its port; the probes say
whether start-up completed and whether what it brought up still runs."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from app.api.application import build_api_app
from app.config import Settings
from app.infra.http import tls_context
from tests.helpers.api import assert_problem
from tests.helpers.backends import backend_settings, server_env
from tests.helpers.servers import ROOT, api_server, app_processes, clean_env, free_port

CASES = [
    ('local', 2, 'true'),  # one SQLite file shared by two servers
    ('team', 2, 'true'),
    ('team', 3, 'true'),
    ('team', 2, 'false'),
    ('team', 3, 'false'),
]


@pytest.mark.parametrize(('backend', 'instances', 'demo'), CASES)
def test_instances_started_together_on_a_fresh_database_all_serve(
    tmp_path: Path, backend: str, instances: int, demo: str
) -> None:
    with backend_settings(backend, tmp_path / 'data0') as settings:
        database_url = settings.effective_database_url  # the first one's SQLite file, or a fresh schema
        env = server_env(settings, RUNBOARD_DATABASE_URL=database_url, RUNBOARD_DEMO=demo)
        data_dirs = [tmp_path / f'data{n}' for n in range(instances)]
        with app_processes(data_dirs, env=env) as apps:
            first_token = json.loads((data_dirs[0] / 'credentials.json').read_text())['token']
            added = httpx.post(
                apps[0]['url'] + '/api/users',
                json={'name': 'Olga', 'role': 'operator', 'team_id': 'local'},
                headers={'Authorization': f'Bearer {first_token}'},
                timeout=30,
            )
            assert added.status_code == 201, added.text
            operator = added.json()['token']['token']
            for app in apps:
                assert httpx.get(app['url'] + '/api/health/live', timeout=10).status_code == 200
                ready = httpx.get(app['url'] + '/api/health/ready', timeout=10)
                assert ready.status_code == 200, ready.text
                assert ready.json()['event_listener'] == 'ok' and ready.json()['scheduler'] == 'ok'
                me = httpx.get(app['url'] + '/api/me', headers={'Authorization': f'Bearer {operator}'}, timeout=10)
                assert me.status_code == 200, me.text
                assert me.json()['name'] == 'Olga' and me.json()['team_ids'] == ['local']
                projects = httpx.get(
                    app['url'] + '/api/projects', headers={'Authorization': f'Bearer {operator}'}, timeout=10
                )
                assert projects.status_code == 200, projects.text
                assert [p['id'] for p in projects.json()] == (['demo'] if demo == 'true' else [])
        engine = create_engine(database_url)
        with engine.connect() as conn:
            assert conn.execute(text('SELECT count(*) FROM project')).scalar() == (1 if demo == 'true' else 0)
            assert conn.execute(text("SELECT count(*) FROM team WHERE id = 'local'")).scalar() == 1
            issues = conn.execute(text("SELECT count(*) FROM issue WHERE project_id = 'demo'")).scalar()
            assert issues == (3 if demo == 'true' else 0)
        engine.dispose()


def _start_and_watch(data_dir: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, list[int]]:
    """`python main.py` to its end, asking its port meanwhile; what answered (status codes) while it lived."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, 'main.py', '--port', str(port), '--data-dir', str(data_dir)],
        cwd=ROOT,
        env=clean_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answered = []
    deadline = time.monotonic() + 180  # a start-up that never ends is the failure this guards against
    try:
        while process.poll() is None:
            assert time.monotonic() < deadline, 'the process kept running after its start-up failed'
            for path in ('/api/health/live', '/api/me'):
                try:
                    answered.append(
                        httpx.get(f'http://127.0.0.1:{port}{path}', timeout=1, verify=tls_context()).status_code
                    )
                except httpx.HTTPError:
                    pass
            time.sleep(0.02)  # the failing start-up needs the CPU this loop would take
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), answered


@pytest.mark.parametrize(
    ('backend', 'setting', 'says'),
    [
        # Redis does not answer: the event listener cannot subscribe (the password stays out of the line)
        ('team', 'redis', 'the event listener (Redis at redis://:***@127.0.0.1:'),
        ('local', 'secret_key', 'the secret box failed: SecretKeyInvalid'),  # the secret key is not a key
        ('local', 'executor', 'invalid settings: RUNBOARD_EXECUTOR'),  # a setting pydantic refuses
    ],
)
def test_a_start_up_step_that_fails_ends_the_process_in_one_line(
    tmp_path: Path, backend: str, setting: str, says: str
) -> None:
    with backend_settings(backend, tmp_path / 'data') as settings:
        broken = {
            'redis': {'RUNBOARD_REDIS_URL': f'redis://:s3cret@127.0.0.1:{free_port()}/0'},
            'secret_key': {'RUNBOARD_SECRET_KEY': 'not-a-key'},
            'executor': {'RUNBOARD_EXECUTOR': 'bogus'},
        }[setting]
        done, answered = _start_and_watch(settings.data_dir, server_env(settings, RUNBOARD_DEMO='true', **broken))
    assert done.returncode == 2, done.stderr
    assert answered == []  # nothing ever answered on its port
    said = [line for line in done.stderr.splitlines() if line.startswith('runboard: cannot start:')]
    assert len(said) == 1 and says in said[0], done.stderr
    assert done.stderr.rstrip().splitlines()[-1] == said[0]
    assert 'Traceback' not in done.stderr + done.stdout
    assert 's3cret' not in done.stderr + done.stdout


def test_probes_before_start_up_and_when_a_started_part_stops(tmp_path: Path) -> None:
    not_started = build_api_app(Settings(data_dir=tmp_path / 'cold', demo=False))

    async def probe(path: str) -> httpx.Response:  # no lifespan: start-up never ran
        transport = httpx.ASGITransport(app=not_started)
        async with httpx.AsyncClient(transport=transport, base_url='http://127.0.0.1') as client:
            return await client.get(path)

    for path in ('/api/health/live', '/api/health/ready'):
        assert_problem(asyncio.run(probe(path)), 503, 'starting')

    with backend_settings('team', tmp_path / 'data') as settings, api_server(settings) as server:
        ready = httpx.get(server.base_url + '/api/health/ready')
        assert ready.status_code == 200, ready.text
        assert {k: ready.json()[k] for k in ('database', 'redis', 'event_listener', 'scheduler')} == dict.fromkeys(
            ('database', 'redis', 'event_listener', 'scheduler'), 'ok'
        )
        scheduler = server.services.scheduler
        scheduler.pause()  # the scheduler's jobs (sweeps, timers, AFK) no longer run
        problem = assert_problem(httpx.get(server.base_url + '/api/health/ready'), 503, 'dependency_unavailable')
        assert problem['dependency'] == 'scheduler' and problem['dependencies']['database'] == 'ok'
        scheduler.resume()
        assert httpx.get(server.base_url + '/api/health/ready').status_code == 200

        bus = server.services.bus  # the event listener ends (cancelled on the server's loop)
        bus._loop.call_soon_threadsafe(bus._task.cancel)
        deadline = time.monotonic() + 30
        while (reply := httpx.get(server.base_url + '/api/health/ready')).status_code == 200:
            assert time.monotonic() < deadline, 'the listener was not cancelled'
            time.sleep(0.05)
        problem = assert_problem(reply, 503, 'dependency_unavailable')
        assert (
            problem['dependency'] == 'event_listener' and problem['dependencies']['event_listener'] == 'down: stopped'
        )
        assert httpx.get(server.base_url + '/api/health/live').status_code == 200  # alive: nothing to restart for


def test_a_team_server_makes_no_bootstrap_administrator_and_says_how_to_make_the_first(tmp_path: Path) -> None:
    """Team mode: nobody `local` with a token on the server's disk, made again whenever it is revoked; the log says
    how to make the first administrator, whose token then works (docs/team.md). RUNBOARD_LOCAL_ACCOUNT=true keeps
    the bootstrap administrator for a single-machine team server."""
    with backend_settings('team', tmp_path / 'data') as settings:
        env = server_env(settings, RUNBOARD_LOCAL_ACCOUNT=None, RUNBOARD_DEMO=None)  # both left to their defaults
        data_dir = tmp_path / 'server'
        with app_processes([data_dir], env=env) as (app,):
            assert not (data_dir / 'credentials.json').exists()
            assert 'Nobody can sign in yet' in (data_dir / 'server.log').read_text()
            engine = create_engine(settings.effective_database_url)
            with engine.connect() as conn:
                assert conn.execute(text('SELECT count(*) FROM "user"')).scalar() == 0
                assert conn.execute(text('SELECT count(*) FROM project')).scalar() == 0  # no demo: no team for it
            engine.dispose()
            made = subprocess.run(
                [sys.executable, '-m', 'app.cli', 'users', 'add', 'ada', '--team', 'ops', '--admin', '--json'],
                cwd=ROOT,
                env=clean_env(RUNBOARD_DATABASE_URL=settings.effective_database_url, RUNBOARD_DATA_DIR=str(data_dir)),
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert made.returncode == 0, made.stderr
            token = json.loads(made.stdout)['token']
            me = httpx.get(app['url'] + '/api/me', headers={'Authorization': f'Bearer {token}'}, timeout=10)
            assert me.status_code == 200 and me.json()['is_admin'] is True and me.json()['team_ids'] == ['ops']
        with app_processes([tmp_path / 'bootstrap'], env=server_env(settings)) as (app,):
            assert (tmp_path / 'bootstrap' / 'credentials.json').exists()  # server_env: the suite's setting, true


def test_a_server_told_its_own_address_as_its_remote_api_refuses_to_start(tmp_path: Path) -> None:
    """RUNBOARD_SERVER exported for the CLI, then `runboard serve` on that port: it started as a UI of itself, said
    it was ready, and answered every /api path 404. It says why it cannot start instead."""
    port = free_port()
    done = subprocess.run(
        [sys.executable, 'main.py', '--port', str(port), '--data-dir', str(tmp_path / 'data')],
        cwd=ROOT,
        env=clean_env(RUNBOARD_SERVER=f'http://localhost:{port}'),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    said = done.stderr.strip().splitlines()[-1]
    assert said.startswith(f'runboard: cannot start: RUNBOARD_SERVER (or --server) is http://localhost:{port}, ')
    assert "this process's own address" in said
