"""Team mode on a TLS-only Redis (issue 35): a server on a rediss:// URL, with the CA, client certificate and key
from RUNBOARD_REDIS_CA_FILE / _CERT_FILE / _KEY_FILE, admits a run (the rate limiter's script over TLS), executes
it, and its change events come back through the Redis pub/sub to the event stream; executor=celery's broker
(kombu) and workers use the same rediss:// URL, its TLS options as ssl_* query parameters. /api/health/ready
answers 503 while the event listener cannot subscribe (Redis refuses it, or is gone) and 200 again once it has
subscribed by itself."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis

from tests.helpers.api import assert_problem
from tests.helpers.backends import backend_settings, server_env
from tests.helpers.runs import create_project, outputs, shell_script, trigger, wait_for_status
from tests.helpers.servers import api_server, app_process
from tests.helpers.tls_redis import TlsRedis, tls_redis
from tests.helpers.workers import runboard_worker


class EventStream:
    """GET /api/events read on a thread: the events (type, data) it delivered so far."""

    def __init__(self, url: str, token: str) -> None:
        self.events: list[tuple[str, dict]] = []
        self.connected = threading.Event()
        self._client = httpx.Client(headers={'Authorization': f'Bearer {token}'}, timeout=httpx.Timeout(5, read=60))
        self._thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self._thread.start()
        assert self.connected.wait(30), 'the event stream did not connect'

    def _read(self, url: str) -> None:
        kind = ''
        try:
            with self._client.stream('GET', url) as reply:
                for line in reply.iter_lines():
                    if line == ': connected':
                        self.connected.set()
                    elif line.startswith('event: '):
                        kind = line.removeprefix('event: ')
                    elif line.startswith('data: '):
                        self.events.append((kind, json.loads(line.removeprefix('data: '))))
        except httpx.HTTPError:
            pass  # closed at the end of the test

    def wait_for(self, wanted: Callable[[str, dict], bool], seconds: float = 30) -> dict:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for kind, data in list(self.events):
                if wanted(kind, data):
                    return data
            time.sleep(0.05)
        raise AssertionError(f'no such event among {self.events}')

    def close(self) -> None:
        self._client.close()


def _token(data_dir: Path) -> str:
    return json.loads((data_dir / 'credentials.json').read_text())['token']


def _admin(server: TlsRedis) -> redis.Redis:
    return redis.Redis.from_url(server.url_with_options, socket_timeout=5)


@contextmanager
def _tls_team_server(tmp_path: Path, tls: TlsRedis, url: str | None = None) -> Iterator[dict]:
    """`python main.py` in team mode: PostgreSQL, and the TLS Redis with its options from the environment."""
    with backend_settings('team', tmp_path / 'data') as settings:
        env = server_env(settings, **tls.env)
        if url:
            env['RUNBOARD_REDIS_URL'] = url
        with app_process(tmp_path / 'data', env=env, ready_path='/api/health/ready') as app:
            yield app


def _ready(app: dict) -> httpx.Response:
    return httpx.get(app['url'] + '/api/health/ready', timeout=10)


def _until(check: Callable[[], httpx.Response], status: int, seconds: float = 30) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while (reply := check()).status_code != status:
        assert time.monotonic() < deadline, f'still {reply.status_code}: {reply.text}'
        time.sleep(0.1)
    return reply


def test_a_team_server_on_a_tls_redis_runs_a_run_and_its_events_arrive(tmp_path: Path, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('echo over tls')})
    with tls_redis(tmp_path / 'tls') as tls, _tls_team_server(tmp_path, tls) as app:
        ready = _ready(app).json()
        assert (ready['redis'], ready['event_listener']) == ('ok', 'ok'), ready
        token = _token(app['data_dir'])
        with httpx.Client(base_url=app['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30) as client:
            create_project(client, repo)
            stream = EventStream(app['url'] + '/api/events?project=proj', token)
            try:
                admitted = trigger(client)
                assert admitted.status_code == 201, admitted.text
                run = admitted.json()
                done = wait_for_status(client, run['id'], timeout=60)
                assert done['status'] == 'succeeded', done
                assert outputs(done) == ['over tls']
                # the run's changes came back through Redis: its admission and its end
                stream.wait_for(lambda kind, data: kind == 'run' and data['id'] == run['id'])
                stream.wait_for(lambda kind, data: data.get('id') == run['id'] and data.get('status') == 'succeeded')
            finally:
                stream.close()
            assert client.get('/api/quota/runs').json()['remaining'] == 19  # the window is in the TLS Redis
        admin = _admin(tls)
        assert any(b':rl:user:' in key for key in admin.scan_iter('*')), 'the rate limiter used another Redis'
        admin.close()


def test_ready_is_503_while_the_event_listener_cannot_subscribe(tmp_path: Path) -> None:
    """Redis answers but refuses the listener's SUBSCRIBE (its user may no longer read the channel): 503 naming
    the event listener while Redis itself is 'ok'. Redis gone: 503 too. Each heals without a restart."""
    with tls_redis(tmp_path / 'tls') as tls:
        admin = _admin(tls)
        admin.acl_setuser('runboard', enabled=True, passwords=['+pw'], keys=['*'], channels=['*'], commands=['+@all'])
        url = tls.url.replace('rediss://', 'rediss://runboard:pw@')
        with _tls_team_server(tmp_path, tls, url) as app:
            assert _ready(app).status_code == 200
            # no channel may be read any more: Redis drops the subscribed connection, the listener is refused
            admin.acl_setuser('runboard', enabled=True, reset_channels=True)  # (redis-py sends 'off' without enabled)
            problem = assert_problem(_until(lambda: _ready(app), 503), 503, 'dependency_unavailable')
            assert problem['dependency'] == 'event_listener', problem
            assert problem['dependencies']['redis'] == 'ok'
            assert problem['dependencies']['event_listener'].startswith('down: cannot subscribe'), problem
            assert httpx.get(app['url'] + '/api/health/live', timeout=10).status_code == 200  # nothing to restart

            admin.acl_setuser('runboard', enabled=True, channels=['*'])  # allowed again: it subscribes by itself
            ready = _until(lambda: _ready(app), 200).json()
            assert ready['event_listener'] == 'ok'
            admin.close()

            tls.stop()  # Redis gone
            problem = assert_problem(_until(lambda: _ready(app), 503), 503, 'dependency_unavailable')
            assert problem['dependencies']['redis'].startswith('down'), problem
            deadline = time.monotonic() + 30  # and the listener, once it tried to subscribe again
            while not (listener := _ready(app).json()['dependencies']['event_listener']).startswith('down'):
                assert time.monotonic() < deadline, listener
                time.sleep(0.1)
            tls.start()  # back (empty: it keeps nothing), on the same port
            admin = _admin(tls)
            admin.acl_setuser(
                'runboard', enabled=True, passwords=['+pw'], keys=['*'], channels=['*'], commands=['+@all']
            )
            admin.close()
            assert _until(lambda: _ready(app), 200).json()['event_listener'] == 'ok'


@pytest.mark.parametrize('backend', ['team'])
def test_celery_workers_run_over_a_tls_broker(backend: str, tmp_path: Path, repo_factory) -> None:  # noqa: ANN001
    """The broker URL is the rediss:// URL with its TLS options in the query (kombu reads them as redis-py does)."""
    repo = repo_factory({'main': shell_script('echo from a worker')})
    with tls_redis(tmp_path / 'tls') as tls, backend_settings(backend, tmp_path / 'data') as base:
        settings = base.model_copy(update={'redis_url': tls.url_with_options, 'executor': 'celery'})
        with runboard_worker(settings, tmp_path / 'worker-data'), api_server(settings) as server:
            with server.client() as client:
                create_project(client, repo)
                run = trigger(client).json()
                done = wait_for_status(client, run['id'], timeout=90)
                assert server.services.runner.live == {}  # not a child of the server
    assert done['status'] == 'succeeded', done
    assert outputs(done) == ['from a worker']
