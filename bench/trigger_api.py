"""Trigger API throughput: admitted runs/s and latency from concurrent clients, then replays.

    python bench/trigger_api.py [--requests 5000] [--clients 16] [--server main|api] [--branches 5200]

Starts a real server on SQLite (rate limit raised, global run cap 0 so every run stays queued):
`--server main` is `python main.py` (NiceGUI + API, as a person starts it), `--server api` is uvicorn
with the API app only. Creates a project on a repository with one branch per request (the PR lock
is per branch) and a high max_concurrent_runs, then sends POST /runs with distinct Idempotency-Keys
from N concurrent clients, then the same requests again (replays). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed import seed  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def make_repo(path: Path, branches: int) -> Path:
    """One commit on main, and `branches` more branch refs pointing at it (fast: one update-ref call)."""
    path.mkdir(parents=True)
    env = {
        **os.environ,
        'GIT_AUTHOR_NAME': 'b',
        'GIT_AUTHOR_EMAIL': 'b@example.invalid',
        'GIT_COMMITTER_NAME': 'b',
        'GIT_COMMITTER_EMAIL': 'b@example.invalid',
    }

    def git(*args: str, **kw) -> str:  # noqa: ANN003
        return subprocess.run(
            ['git', *args], cwd=path, env=env, check=True, capture_output=True, text=True, **kw
        ).stdout

    git('init', '-q', '-b', 'main')
    (path / 'run.sh').write_text('#!/bin/sh\necho hi\n')
    git('add', '-A')
    git('commit', '-q', '-m', 'init')
    commit = git('rev-parse', 'HEAD').strip()
    refs = ''.join(f'create refs/heads/b/{i:05d} {commit}\n' for i in range(branches))
    git('update-ref', '--stdin', input=refs)
    return path


def trigger_bodies(branch_numbers: Iterable[int], project: str = 'bench') -> list[tuple[str, bytes]]:
    """(Idempotency-Key, JSON body) of a trigger on branch b/NNNNN for each number: what every bench sends."""
    return [
        (
            uuid.uuid4().hex,
            json.dumps(
                {'project_id': project, 'branch': f'b/{n:05d}', 'depth_level': 'shallow', 'target_framework': 'python'}
            ).encode(),
        )
        for n in branch_numbers
    ]


def server_env(data_dir: Path, window_seconds: int = 600) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(('PYTEST', 'NICEGUI', 'RUNBOARD_'))}
    env.update(
        RUNBOARD_DATA_DIR=str(data_dir),
        RUNBOARD_GLOBAL_RUN_CAP='0',
        RUNBOARD_DEMO='false',
        RUNBOARD_RATE_LIMIT_RUNS='10000000',
        RUNBOARD_RATE_LIMIT_WINDOW_SECONDS=str(window_seconds),
        RUNBOARD_ALLOW_LOCAL_REPOSITORIES='true',  # the benches' repositories are local paths, also in team mode
    )
    return env


API_ONLY = (
    'import uvicorn, sys; from app.config import Settings; from app.api.application import build_api_app; '
    'kw = {}\n'
    'try:\n import uvloop, httptools; kw = dict(loop="uvloop", http="httptools")\n'
    'except ImportError:\n pass\n'
    'uvicorn.run(build_api_app(Settings()), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", **kw)'
)


def start_server(kind: str, data_dir: Path, port: int, log_path: Path, window_seconds: int = 600) -> subprocess.Popen:
    if kind == 'main':
        argv = [sys.executable, 'main.py', '--port', str(port), '--data-dir', str(data_dir)]
    else:
        argv = [sys.executable, '-c', API_ONLY, str(port)]
    return subprocess.Popen(
        argv,
        cwd=ROOT,
        env=server_env(data_dir, window_seconds),
        stdout=open(log_path, 'wb'),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far: a per-request cost that other load on the machine does not skew."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float('nan')
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


async def wait_healthy(session, url: str, process: subprocess.Popen) -> None:  # noqa: ANN001
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit('server exited; see its log')
        try:
            async with session.get(url + '/api/health') as reply:
                if reply.status == 200:
                    return
        except Exception:  # noqa: BLE001
            pass
        await asyncio.sleep(0.1)
    raise SystemExit('server did not answer /api/health')


async def phase(session, url: str, bodies: list[tuple[str, bytes]], clients: int, expect: int) -> dict:  # noqa: ANN001
    """Send every (key, body) once from `clients` concurrent workers; count answers by status."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    queue = iter(bodies)

    async def worker() -> None:
        for key, body in queue:
            started = time.perf_counter()
            try:
                async with session.post(
                    url + '/api/runs', data=body, headers={'Idempotency-Key': key, 'Content-Type': 'application/json'}
                ) as reply:
                    await reply.read()
                    status = reply.status
            except Exception as exc:  # noqa: BLE001
                errors.append(repr(exc))
                continue
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
            if status != expect and len(errors) < 5:
                errors.append(f'HTTP {status}')

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    ok = statuses.get(expect, 0)
    return {
        'requests': len(bodies),
        'expected_status': expect,
        'ok': ok,
        'per_second': ok / elapsed,
        'elapsed_s': elapsed,
        'p50_ms': percentile(latencies, 0.5) * 1000,
        'p99_ms': percentile(latencies, 0.99) * 1000,
        'mean_ms': statistics.fmean(latencies) * 1000 if latencies else 0,
        'errors': len(bodies) - ok,
        'statuses': statuses,
        'sample_errors': errors[:5],
    }


async def bench(args: argparse.Namespace) -> dict:
    try:
        import aiohttp  # a lean client: the client shares the machine's cores with the server
    except ImportError:
        raise SystemExit('bench/trigger_api.py needs aiohttp: pip install aiohttp') from None
    load_before = ' '.join(Path('/proc/loadavg').read_text().split()[:3])
    workdir = Path(tempfile.mkdtemp(prefix='rb-bench-'))
    data_dir = workdir / 'data'
    repo = make_repo(workdir / 'repo', max(args.branches, args.requests))
    port = free_port()
    url = f'http://127.0.0.1:{port}'
    process = start_server(args.server, data_dir, port, workdir / 'server.log')
    try:
        connector = aiohttp.TCPConnector(limit=args.clients * 2)
        async with aiohttp.ClientSession(connector=connector) as session:
            await wait_healthy(session, url, process)
            token = json.loads((data_dir / 'credentials.json').read_text())['token']
            session.headers['Authorization'] = f'Bearer {token}'
            project = {
                'id': 'bench',
                'name': 'Bench',
                'repository': str(repo),
                'base_branch': 'main',
                'command': ['sh', 'run.sh'],
                'max_concurrent_runs': 100_000,
            }
            async with session.post(url + '/api/projects', json=project) as reply:
                assert reply.status == 201, await reply.text()
                repository_key = (await reply.json())['repository_key']
            if getattr(args, 'seed_runs', 0):
                async with session.get(url + '/api/me') as reply:
                    user_id = (await reply.json())['user_id']
                conn = sqlite3.connect(data_dir / 'runboard.db', isolation_level=None, timeout=30)
                seed(conn, args.seed_runs, 'bench', repository_key, user_id, 'rb')
                conn.close()
            bodies = trigger_bodies(range(args.requests))
            warm = [
                (
                    uuid.uuid4().hex,
                    json.dumps(
                        {'project_id': 'bench', 'branch': 'main', 'depth_level': 'deep', 'target_framework': 'go'}
                    ).encode(),
                )
            ]
            await phase(session, url, warm, 1, 201)
            spy = None
            if args.py_spy:  # sample the server through both phases (pip install py-spy)
                spy = subprocess.Popen(
                    [
                        str(Path(sys.executable).with_name('py-spy')),  # the bench extra's
                        'record',
                        '-p',
                        str(process.pid),
                        '-r',
                        '250',
                        '--format',
                        'raw',
                        '-o',
                        args.py_spy,
                        '--nonblocking',
                        *(['--gil'] if args.py_spy_gil else []),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                await asyncio.sleep(1)
            cpu = cpu_seconds(process.pid), time.process_time()
            created = await phase(session, url, bodies, args.clients, 201)
            cpu_mid = cpu_seconds(process.pid), time.process_time()
            replayed = await phase(session, url, bodies, args.clients, 200)
            cpu_end = cpu_seconds(process.pid), time.process_time()
            for figures, (before, after) in ((created, (cpu, cpu_mid)), (replayed, (cpu_mid, cpu_end))):
                figures['server_cpu_ms'] = (after[0] - before[0]) * 1000 / len(bodies)
                figures['client_cpu_ms'] = (after[1] - before[1]) * 1000 / len(bodies)
            if spy is not None:
                spy.send_signal(2)
                spy.wait(30)
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return {'created': created, 'replayed': replayed, 'load_before': load_before}


def report(args: argparse.Namespace, figures: dict) -> None:
    print(
        f'server: {args.server}  clients: {args.clients}  requests: {args.requests}  (SQLite, global cap 0)  '
        f'load average before: {figures["load_before"]}'
    )
    for name in ('created', 'replayed'):
        print(line(name, figures[name]))


def line(name: str, figures: dict) -> str:
    return (
        f'{name:8s} {figures["per_second"]:8.0f} runs/s  p50 {figures["p50_ms"]:6.1f} ms  '
        f'p99 {figures["p99_ms"]:6.1f} ms  errors {figures["errors"]}  statuses {figures["statuses"]}  '
        f'CPU/request: server {figures["server_cpu_ms"]:.2f} ms, client {figures["client_cpu_ms"]:.2f} ms'
        + (f'  e.g. {figures["sample_errors"]}' if figures['sample_errors'] else '')
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=5000)
    parser.add_argument('--clients', type=int, default=16)
    parser.add_argument('--branches', type=int, default=5200)
    parser.add_argument('--server', choices=('main', 'api'), default='main')
    parser.add_argument('--py-spy', metavar='FILE', help='record collapsed stacks of the server into FILE')
    parser.add_argument(
        '--py-spy-gil', action='store_true', help='only the thread holding the GIL: where the Python CPU goes'
    )
    parser.add_argument('--keep', action='store_true', help='keep the temporary data directory')
    parser.add_argument('--seed-runs', type=int, default=0, help='finished runs put into the table first')
    args = parser.parse_args()
    report(args, asyncio.run(bench(args)))


if __name__ == '__main__':
    main()
