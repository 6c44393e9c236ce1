"""The Celery executor against the local one: dispatch latency (the admitting commit -> `running`) and
the drain rate of trivial runs. Prints figures; asserts nothing.

    python bench/workers.py [--runs 1000] [--workers 2] [--slots 4] [--idle 20] [--sandbox auto|off|both]

Needs the team backend on loopback: PostgreSQL (database `test`, a fresh schema per executor) and Redis
(the broker and the event bus). For each executor it starts `python main.py` (and, for celery, --workers
`runboard worker --slots N` processes), creates a project whose command is `true`, triggers --runs runs on
distinct branches from 8 threads, and waits until all have ended. Dispatch latency is started_at -
created_at of each run, as the database recorded them.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trigger_api import ROOT, free_port, make_repo, percentile, server_env  # noqa: E402

PG = 'postgresql+psycopg://postgres@127.0.0.1:5432/test'
REDIS = 'redis://127.0.0.1:6379/0'


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=open(log, 'wb'), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def one(executor: str, sandbox: str, args: argparse.Namespace, root: Path, repo: Path) -> None:
    schema = f'bench_{uuid.uuid4().hex[:8]}'
    admin = sa.create_engine(PG, isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA {schema}'))
    url = f'{PG}?options=-csearch_path%3D{schema}'
    data = root / f'data-{executor}-{sandbox}'
    env = {
        **server_env(data),
        'RUNBOARD_DATABASE_URL': url,
        'RUNBOARD_REDIS_URL': REDIS,
        'RUNBOARD_REDIS_PREFIX': schema,
        'RUNBOARD_EXECUTOR': executor,
        'RUNBOARD_GLOBAL_RUN_CAP': str(args.workers * args.slots),
        'RUNBOARD_SANDBOX': sandbox,
    }
    port = free_port()
    processes = [
        start([sys.executable, 'main.py', '--port', str(port), '--data-dir', str(data)], env, root / f'{executor}.log')
    ]
    try:
        if executor == 'celery':
            for n in range(args.workers):
                worker_env = {**env, 'RUNBOARD_DATA_DIR': str(root / f'worker-{n}-{sandbox}')}
                argv = [sys.executable, '-m', 'app.cli', 'worker', '--slots', str(args.slots), '--name', f'w{n}@%h']
                processes.append(start(argv, worker_env, root / f'worker-{n}.log'))
        base = f'http://127.0.0.1:{port}'
        for _ in range(300):
            try:
                if httpx.get(base + '/api/health', timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        token = json.loads((data / 'credentials.json').read_text())['token']
        client = httpx.Client(base_url=base, headers={'Authorization': f'Bearer {token}'}, timeout=60)
        body = {
            'id': 'bench',
            'name': 'bench',
            'repository': str(repo),
            'command': ['true'],
            'max_concurrent_runs': 100000,
        }
        client.post('/api/projects', json=body).raise_for_status()
        sleeper = {**body, 'id': 'sleeper', 'name': 'sleeper', 'command': ['sleep', '60']}
        client.post('/api/projects', json=sleeper).raise_for_status()
        while executor == 'celery':  # every worker registered and live
            live = [w for w in client.get('/api/workers').json()['items'] if w['state'] == 'live']
            if len(live) == args.workers:
                break
            time.sleep(0.2)

        def trigger(n: int) -> None:
            run = {
                'project_id': 'bench',
                'branch': f'b/{n:05d}',
                'depth_level': 'shallow',
                'target_framework': 'python',
            }
            client.post('/api/runs', json=run).raise_for_status()

        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(trigger, range(args.runs)))
        engine = sa.create_engine(url)
        while True:
            with engine.connect() as conn:
                active = conn.execute(
                    sa.text("SELECT count(*) FROM run WHERE status IN ('queued', 'running')")
                ).scalar_one()
            if active == 0:
                break
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        with engine.connect() as conn:
            rows = conn.execute(sa.text('SELECT started_at - created_at, status FROM run')).all()
        latencies = sorted(delta.total_seconds() for delta, _ in rows)
        statuses = {status for _, status in rows}
        print(
            f'{executor:6}: {args.runs} runs drained in {seconds:.1f} s ({args.runs / seconds:.1f} runs/s); '
            f'dispatch latency p50 {percentile(latencies, 0.5) * 1000:.0f} ms '
            f'p99 {percentile(latencies, 0.99) * 1000:.0f} ms '
            f'mean {statistics.mean(latencies) * 1000:.0f} ms; statuses {sorted(statuses)}'
        )
        idle_dispatch, stop_latency = [], []
        for n in range(args.idle):  # one at a time on idle workers: commit -> running, and Stop -> stopped
            run = {
                'project_id': 'sleeper',
                'branch': f'b/{n:05d}',
                'depth_level': 'shallow',
                'target_framework': 'python',
            }
            run_id = client.post('/api/runs', json=run).json()['id']
            while (seen := client.get(f'/api/runs/{run_id}', params={'events_limit': 0}).json())['status'] == 'queued':
                time.sleep(0.01)
            idle_dispatch.append(
                (
                    datetime.fromisoformat(seen['started_at']) - datetime.fromisoformat(seen['created_at'])
                ).total_seconds()
            )
            time.sleep(0.3)  # the command is up
            asked = time.perf_counter()
            client.post(f'/api/runs/{run_id}/stop').raise_for_status()
            while client.get(f'/api/runs/{run_id}', params={'events_limit': 0}).json()['status'] not in ('stopped',):
                time.sleep(0.01)
            stop_latency.append(time.perf_counter() - asked)
        idle_dispatch.sort()
        stop_latency.sort()
        print(
            f'{executor:6}: {args.idle} runs one at a time: dispatch latency p50 '
            f'{percentile(idle_dispatch, 0.5) * 1000:.0f} ms p99 {percentile(idle_dispatch, 0.99) * 1000:.0f} ms; '
            f'Stop -> stopped p50 {percentile(stop_latency, 0.5) * 1000:.0f} ms '
            f'p99 {percentile(stop_latency, 0.99) * 1000:.0f} ms (kill grace included)'
        )
    finally:
        for process in reversed(processes):
            stop(process)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA {schema} CASCADE'))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--runs', type=int, default=1000)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--slots', type=int, default=4)
    parser.add_argument('--idle', type=int, default=20, help='runs timed one at a time on idle workers')
    parser.add_argument('--sandbox', choices=['auto', 'off', 'both'], default='auto', help='RUNBOARD_SANDBOX')
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix='rb-workers-'))
    repo = make_repo(root / 'repo', args.runs)
    print(f'{args.workers} workers x {args.slots} slots (the local executor: global cap {args.workers * args.slots})')
    for sandbox in ('auto', 'off') if args.sandbox == 'both' else (args.sandbox,):
        for executor in ('local', 'celery'):
            print(f'-- RUNBOARD_SANDBOX={sandbox}')
            one(executor, sandbox, args, root, repo)


if __name__ == '__main__':
    main()
