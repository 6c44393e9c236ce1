"""The reference for this machine: what a bare ASGI app does for the same write as an admission, next to
Runboard's own POST /runs, driven by the same client in the same run, so the ratio means something.

    python bench/ceiling.py [--requests 5000] [--clients 16] [--repeat 3] [--server main|api] [--seed-runs N]

The ceiling app is Starlette with one route on uvicorn (uvloop, httptools, as the real server): it
parses the JSON body and runs one SQLite WAL transaction (BEGIN IMMEDIATE, synchronous=NORMAL) that
inserts an idempotency-key row and a run row into Runboard's own schema (the migrations' tables and
indexes), then answers 201 with the run id. Nothing else: no auth, no rules, no events. It runs in two
styles: `threadpool` (a sync endpoint, as such apps are usually written; the reference the ratio is
judged by) and `loop` (the write on the event loop: the most this machine does for the write at all).

Each round runs the ceiling and then bench/trigger_api.py's server against the same client code; the
figures of every round are printed, then the median of the rounds with the ratio taken in each round.
--seed-runs puts N finished runs into both databases first (the "flat as the tables grow" figure).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import trigger_api  # noqa: E402
from seed import seed  # noqa: E402
from trigger_api import cpu_seconds, free_port, phase, trigger_bodies, wait_healthy  # noqa: E402

SERVE = '--serve-ceiling'


def ceiling_app(db_path: str, style: str):  # noqa: ANN201
    """style 'loop': the write runs on the event loop (the fastest this machine does it); 'threadpool': a
    sync endpoint, as most Starlette/FastAPI apps write it, so the write runs in the threadpool with one
    connection per thread."""
    import threading

    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    local = threading.local()
    counter = iter(range(10**12))
    guard = threading.Lock()

    def connection() -> sqlite3.Connection:
        if not hasattr(local, 'conn'):
            local.conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
            for pragma in ('journal_mode=WAL', 'synchronous=NORMAL', 'foreign_keys=ON', 'busy_timeout=30000'):
                local.conn.execute(f'PRAGMA {pragma}')
        return local.conn

    async def create(request: Request) -> Response:
        body = json.loads(await request.body())
        key = request.headers['idempotency-key']
        if style == 'loop':
            run_id = write(body, key)
        else:
            run_id = await run_in_threadpool(write, body, key)
        return Response(json.dumps({'id': run_id}), status_code=201, media_type='application/json')

    def write(body: dict, key: str) -> str:
        conn = connection()
        with guard:
            run_id = f'run_{next(counter):026d}'
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=' ')
        expires = (datetime.now(UTC) + timedelta(days=1)).replace(tzinfo=None).isoformat(sep=' ')
        conn.execute('BEGIN IMMEDIATE')
        conn.execute(
            'INSERT INTO idempotencykey (user_id, key, fingerprint, run_id, created_at, expires_at) '
            'VALUES (?, ?, ?, ?, ?, ?)',
            ('ceiling', key, 'fp', run_id, now, expires),
        )
        conn.execute(
            'INSERT INTO run (id, project_id, repository_key, kind, status, depth_level, target_framework, '
            'branch_name, checkout_ref, user_id, idempotency_key, payload_fingerprint, created_at, budget_seconds, '
            "last_seq, output_lines) VALUES (?, 'bench', 'ceiling', 'manual', 'succeeded', ?, ?, ?, ?, "
            "'ceiling', ?, 'fp', ?, 3600, 0, 0)",
            (run_id, body['depth_level'], body['target_framework'], body['branch'], body['branch'], key, now),
        )
        conn.execute('COMMIT')
        return run_id

    async def health(_: Request) -> Response:
        return Response('{"status":"ok"}', media_type='application/json')

    return Starlette(routes=[Route('/api/runs', create, methods=['POST']), Route('/api/health', health)])


def prepare_database(db_path: Path, seed_runs: int) -> None:
    """Runboard's schema (its migrations), the rows the inserts refer to, and `seed_runs` finished runs."""
    from app.infra import db

    engine = db.make_engine(f'sqlite:///{db_path}')
    db.upgrade(engine)
    engine.dispose()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute('PRAGMA foreign_keys=ON')
    conn.execute("INSERT INTO team (id, name) VALUES ('ceiling', 'Ceiling')")
    conn.execute("INSERT INTO user (id, name, role, created_at) VALUES ('ceiling', 'ceiling', 'builder', '2026-01-01')")
    conn.execute(
        'INSERT INTO project (id, team_id, repository_key, name, repository, base_branch, command, depth_levels, '
        'target_frameworks, max_concurrent_runs, issue_source, runs_on, auto_enabled, consecutive_failures, '
        "created_at, updated_at) VALUES ('bench', 'ceiling', 'ceiling', 'bench', '/nowhere', 'main', '[]', '[]', "
        "'[]', 100000, '{}', '[]', 0, 0, '2026-01-01', '2026-01-01')"
    )
    seed(conn, seed_runs, 'bench', 'ceiling', 'ceiling', 'ceiling')
    conn.close()


async def ceiling_round(args: argparse.Namespace, workdir: Path, style: str) -> dict:
    import aiohttp

    db_path = workdir / 'ceiling.db'
    prepare_database(db_path, args.seed_runs)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, SERVE, str(port), str(db_path), style],
        stdout=open(workdir / 'ceiling.log', 'wb'),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f'http://127.0.0.1:{port}'
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.clients * 2)) as session:
            await wait_healthy(session, url, process)
            bodies = trigger_bodies(range(args.requests))
            await phase(session, url, bodies[:50], 1, 201)  # warm-up
            cpu = cpu_seconds(process.pid), time.process_time()
            figures = await phase(session, url, bodies[50:], args.clients, 201)
            figures['server_cpu_ms'] = (cpu_seconds(process.pid) - cpu[0]) * 1000 / (len(bodies) - 50)
            figures['client_cpu_ms'] = (time.process_time() - cpu[1]) * 1000 / (len(bodies) - 50)
            return figures
    finally:
        process.terminate()
        process.wait(20)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == SERVE:
        import uvicorn

        port, db_path, style = int(sys.argv[2]), sys.argv[3], sys.argv[4]
        uvicorn.run(
            ceiling_app(db_path, style),
            host='127.0.0.1',
            port=port,
            log_level='warning',
            loop='uvloop',
            http='httptools',
        )
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=5000)
    parser.add_argument('--clients', type=int, default=16)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--server', choices=('main', 'api'), default='main')
    parser.add_argument('--seed-runs', type=int, default=0)
    args = parser.parse_args()
    runboard_args = argparse.Namespace(
        requests=args.requests,
        clients=args.clients,
        branches=args.requests + 200,
        server=args.server,
        py_spy=None,
        keep=False,
        seed_runs=args.seed_runs,
    )
    rounds = []
    for n in range(args.repeat):
        ceilings = {}
        for style in ('loop', 'threadpool'):
            with tempfile.TemporaryDirectory(prefix='rb-ceiling-') as tmp:
                ceilings[style] = asyncio.run(ceiling_round(args, Path(tmp), style))
        runboard = asyncio.run(trigger_api.bench(runboard_args))
        rounds.append((ceilings, runboard))
        print(f'round {n + 1}  load before: {runboard["load_before"]}')
        report_round(ceilings, runboard)
    by_ratio = sorted(rounds, key=lambda r: r[1]['created']['per_second'] / r[0]['threadpool']['per_second'])
    ceilings, runboard = by_ratio[len(by_ratio) // 2]
    print(
        f'\nmedian of {len(rounds)} rounds (by the create/threadpool-ceiling ratio), server {args.server}, '
        f'{args.clients} clients, {args.requests} requests, {args.seed_runs} runs already in the table:'
    )
    report_round(ceilings, runboard)


def report_round(ceilings: dict, runboard: dict) -> None:
    for style, figures in ceilings.items():
        print('  ' + trigger_api.line(f'ceiling/{style}', figures))
    print('  ' + trigger_api.line('create', runboard['created']))
    print('  ' + trigger_api.line('replay', runboard['replayed']))
    created, replayed = runboard['created']['per_second'], runboard['replayed']['per_second']
    print(
        '  ratios: '
        + '; '.join(
            f'create/{style} {created / c["per_second"]:.2f}, replay/{style} {replayed / c["per_second"]:.2f}'
            for style, c in ceilings.items()
        )
    )


if __name__ == '__main__':
    main()
