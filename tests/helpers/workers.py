"""`runboard worker` processes for the executor=celery tests, and waits on the worker registry."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from app.config import Settings
from app.infra.secret_box import KEY_FILE_NAME, load_key_file
from tests.helpers.backends import server_env
from tests.helpers.servers import ROOT, clean_env


@contextmanager
def runboard_worker(
    settings: Settings, data_dir: Path, *, slots: int = 2, labels: str = '', name: str | None = None
) -> Iterator[subprocess.Popen]:
    """A worker named `name`, by default `<data_dir name>@<host>`, its log beside its data dir; terminated (then
    killed) on exit. It has the server's secret key, as docs/team.md asks (a worker refuses to start without one in
    team mode): the settings' RUNBOARD_SECRET_KEY, else the key file of the server's data dir (made now when the
    server has not started yet; it then reads that one)."""
    extra = {'RUNBOARD_EXECUTOR': 'celery', 'RUNBOARD_DATA_DIR': str(data_dir)}
    if not settings.secret_key:
        server_key = settings.data_dir / KEY_FILE_NAME
        load_key_file(server_key)
        extra['RUNBOARD_SECRET_KEY'] = server_key.read_text().strip()
    if settings.broker_url:
        extra['RUNBOARD_BROKER_URL'] = settings.broker_url
    extra['RUNBOARD_HEARTBEAT_SECONDS'] = str(settings.heartbeat_seconds)
    env = clean_env(**server_env(settings, **extra))
    argv = [sys.executable, '-m', 'app.cli', 'worker', '--slots', str(slots), '--name', name or f'{data_dir.name}@%h']
    if labels:
        argv += ['--labels', labels]
    log = open(data_dir.parent / f'{data_dir.name}.log', 'wb')
    worker = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
        log.close()


def wait_for_worker(client: httpx.Client, prefix: str, state: str = 'live', timeout: float = 60) -> dict:
    """Poll GET /api/workers until the worker whose name starts with `prefix` is in `state`."""
    deadline = time.monotonic() + timeout
    while True:
        found = [w for w in client.get('/api/workers').json()['items'] if w['name'].startswith(prefix + '@')]
        if found and found[0]['state'] == state:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f'worker {prefix} not {state}: {found}')
        time.sleep(0.2)
