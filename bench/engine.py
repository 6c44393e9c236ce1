"""Run-engine figures: process exit -> terminal status in the database, and output ingest rate.

    python bench/engine.py [--runs 60] [--lines 100000] [--team | --database-url URL --redis-url URL]

Starts the API with its services in this process (uvicorn thread, temporary data dir), creates a
project on a generated git repository, and measures through the real API and database:

1. Reap latency over N short runs (one at a time, so each is measured alone). The command prints
   its own wall-clock time as its very last act before exiting. Latency = the moment the reaping
   transaction's commit returned (recorded by wrapping the engine's finish_run in this process) minus
   that moment; the stored `finished_at` (stamped inside that transaction) is printed too.
2. Ingest: a command printing L lines; time from the run's `started_at` until all L lines are
   stored (observed by polling the database every 5 ms), and from the first stored output line; and the
   CPU time this process spent meanwhile (a figure that holds up better on a busy machine).

Prints figures only; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from sqlalchemy import text  # noqa: E402

from app.config import Settings  # noqa: E402

EXIT_STAMP = 'exit-at '


def make_repo(path: Path, lines: int) -> None:
    path.mkdir(parents=True)
    (path / 'quick.sh').write_text(f'#!/bin/sh\necho "{EXIT_STAMP}$(date +%s.%N)"\n')
    (path / 'flood.sh').write_text(f'#!/bin/sh\nseq 1 {lines}\n')
    ident = ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid']
    for args in (['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-q', '-m', 'bench']):
        subprocess.run(['git', *ident, *args], cwd=path, check=True, capture_output=True)


@contextmanager
def serve(settings: Settings):  # noqa: ANN201
    import socket

    from app.api.application import build_api_app

    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    app = build_api_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host='127.0.0.1', port=port, log_level='warning'))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError('API server did not start')
        time.sleep(0.02)
    try:
        yield f'http://127.0.0.1:{port}', app.state.services
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def parse_time(value: str | datetime) -> float:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace('Z', '+00:00'))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def wait_terminal(client: httpx.Client, run_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f'/api/runs/{run_id}').json()
        if run['status'] not in ('queued', 'running'):
            return run
        time.sleep(0.02)
    raise RuntimeError(f'run {run_id} did not finish')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


COMMITTED: dict[str, float] = {}


def record_reap_commits() -> None:
    from app.services.execution import engine as executor

    finish_run = executor.finish_run

    def timed_finish_run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        result = finish_run(*args, **kwargs)
        COMMITTED[kwargs['run_id']] = time.time()
        return result

    executor.finish_run = timed_finish_run


def bench_reap(client: httpx.Client, runs: int) -> tuple[list[float], list[float]]:
    latencies, stamped = [], []
    for _ in range(runs):
        reply = client.post(
            '/api/runs',
            json={'project_id': 'quick', 'branch': 'main', 'depth_level': 'shallow', 'target_framework': 'python'},
        )
        reply.raise_for_status()
        run = wait_terminal(client, reply.json()['id'])
        if run['status'] != 'succeeded':
            raise RuntimeError(f'quick run ended {run["status"]}: {run["events"]}')
        stamp = next(e['text'] for e in run['events'] if e['type'] == 'output' and e['text'].startswith(EXIT_STAMP))
        exited_at = float(stamp[len(EXIT_STAMP) :])
        latencies.append((COMMITTED[run['id']] - exited_at) * 1000)
        stamped.append((parse_time(run['finished_at']) - exited_at) * 1000)
    return latencies, stamped


def bench_ingest(client: httpx.Client, engine, lines: int) -> dict:  # noqa: ANN001
    reply = client.post(
        '/api/runs',
        json={'project_id': 'flood', 'branch': 'main', 'depth_level': 'shallow', 'target_framework': 'python'},
    )
    reply.raise_for_status()
    run_id = reply.json()['id']
    cpu_before = time.process_time()
    all_stored_at = None
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            stored = conn.execute(text('SELECT output_lines FROM run WHERE id = :id'), {'id': run_id}).scalar_one()
        if stored >= lines:
            all_stored_at = time.time()
            cpu_seconds = time.process_time() - cpu_before
            break
        time.sleep(0.005)
    run = wait_terminal(client, run_id)
    with engine.connect() as conn:
        first_output = conn.execute(
            text("SELECT min(at) FROM runevent WHERE run_id = :id AND type = 'output'"), {'id': run_id}
        ).scalar_one()
    started = parse_time(run['started_at'])
    return {
        'status': run['status'],
        'stored': run['output_lines'],
        'seconds_from_start': all_stored_at - started,
        'seconds_from_first_line': all_stored_at - parse_time(first_output),
        'cpu_seconds': cpu_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=60)
    parser.add_argument('--lines', type=int, default=100_000)
    parser.add_argument('--database-url', help='e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test')
    parser.add_argument('--redis-url')
    parser.add_argument(
        '--team',
        action='store_true',
        help='PostgreSQL and Redis on 127.0.0.1 (the test backends), in a throw-away schema',
    )
    args = parser.parse_args()
    if args.team:
        args.database_url = args.database_url or 'postgresql+psycopg://postgres@127.0.0.1:5432/test'
        args.redis_url = args.redis_url or 'redis://127.0.0.1:6379/0'
    record_reap_commits()
    with tempfile.TemporaryDirectory(prefix='runboard-bench-') as tmp:
        data_dir = Path(tmp) / 'data'
        repo = Path(tmp) / 'repo'
        make_repo(repo, args.lines)
        settings = Settings(
            data_dir=data_dir,
            database_url=args.database_url,
            redis_url=args.redis_url,
            redis_prefix=f'rbbench{int(time.time())}',
            demo=False,
            rate_limit_runs=100_000,
            heartbeat_seconds=1.0,
            allow_local_repositories=True,  # the bench's repository is a local path, also in team mode
        )
        schema = None
        if args.database_url and not args.database_url.startswith('sqlite'):
            schema = f'rbbench_{int(time.time())}'
            from sqlalchemy import create_engine

            admin = create_engine(args.database_url, isolation_level='AUTOCOMMIT')
            with admin.connect() as conn:
                conn.execute(text(f'CREATE SCHEMA {schema}'))
            sep = '&' if '?' in args.database_url else '?'
            settings = settings.model_copy(
                update={'database_url': f'{args.database_url}{sep}options=-csearch_path%3D{schema}'}
            )
        try:
            with serve(settings) as (url, services):
                token = json.loads(settings.credentials_path.read_text())['token']
                with httpx.Client(base_url=url, headers={'Authorization': f'Bearer {token}'}, timeout=60) as client:
                    for pid, script in (('quick', 'quick.sh'), ('flood', 'flood.sh')):
                        client.post(
                            '/api/projects',
                            json={'id': pid, 'name': pid, 'repository': str(repo), 'command': ['sh', script]},
                        ).raise_for_status()
                    backend = 'PostgreSQL' if schema else 'SQLite'
                    print(f'backend: {backend}; event bus: {"Redis" if args.redis_url else "in-process"}')
                    bench_reap(client, 3)  # warm-up: mirror clone, connections
                    latencies, stamped = bench_reap(client, args.runs)
                    print(
                        f'process exit -> terminal status committed in the database over {len(latencies)} runs: '
                        f'median {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, '
                        f'max {max(latencies):.1f} ms'
                    )
                    print(
                        f'  (process exit -> stored finished_at stamp: median {statistics.median(stamped):.1f} ms, '
                        f'p99 {percentile(stamped, 99):.1f} ms)'
                    )
                    ingest = bench_ingest(client, services.engine, args.lines)
                    print(
                        f'ingest of {args.lines} lines ({ingest["status"]}, {ingest["stored"]} stored): '
                        f'{args.lines / ingest["seconds_from_start"]:,.0f} lines/s from run start '
                        f'({ingest["seconds_from_start"]:.2f} s), '
                        f'{args.lines / ingest["seconds_from_first_line"]:,.0f} lines/s from the first stored line '
                        f'({ingest["seconds_from_first_line"]:.2f} s); server process CPU '
                        f'{ingest["cpu_seconds"]:.2f} s ({ingest["cpu_seconds"] * 1e6 / args.lines:.1f} µs per line)'
                    )
        finally:
            if schema:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP SCHEMA IF EXISTS {schema} CASCADE'))
                admin.dispose()


if __name__ == '__main__':
    main()
