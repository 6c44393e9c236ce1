"""A repository with 40,000 branches: triggers from 16 clients, the picker searching as people type,
and triggers naming branches that do not exist. Prints figures; asserts nothing.

    python bench/branches.py [--branches 40000] [--requests 2000] [--clients 16] [--unknown 100]

Starts `python main.py` on SQLite (global cap 0: runs stay queued), creates a project on a generated
repository with --branches branch refs, then: (1) POST /runs from --clients concurrent clients on distinct
branches while one more client calls GET /branches?q=... every 200 ms (as a picker does); (2) --unknown
sequential triggers on branches that do not exist (each must be a quick 422).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trigger_api import cpu_seconds, free_port, make_repo, percentile, phase, start_server, trigger_bodies, wait_healthy  # noqa: E402


async def picker(session, url: str, stop: asyncio.Event) -> list[float]:  # noqa: ANN001
    latencies, n = [], 0
    while not stop.is_set():
        n += 1
        started = time.perf_counter()
        async with session.get(
            url + '/api/projects/bench/branches', params={'q': f'b/{n % 400:03d}', 'limit': 50}
        ) as reply:
            await reply.read()
            assert reply.status == 200, reply.status
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.2)
    return sorted(latencies)


async def bench(args: argparse.Namespace) -> None:
    import aiohttp

    workdir = Path(tempfile.mkdtemp(prefix='rb-branches-'))
    data_dir = workdir / 'data'
    started = time.perf_counter()
    repo = make_repo(workdir / 'repo', args.branches)
    print(f'repository with {args.branches} branches made in {time.perf_counter() - started:.1f} s')
    port = free_port()
    url = f'http://127.0.0.1:{port}'
    process = start_server('main', data_dir, port, workdir / 'server.log')
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.clients * 2)) as session:
            await wait_healthy(session, url, process)
            session.headers['Authorization'] = (
                'Bearer ' + json.loads((data_dir / 'credentials.json').read_text())['token']
            )
            project = {
                'id': 'bench',
                'name': 'Bench',
                'repository': str(repo),
                'base_branch': 'main',
                'command': ['sh', 'run.sh'],
                'max_concurrent_runs': 100_000,
            }
            started = time.perf_counter()
            async with session.post(url + '/api/projects', json=project) as reply:
                assert reply.status == 201, await reply.text()
            print(f'project created (the repository checked) in {(time.perf_counter() - started) * 1000:.0f} ms')
            started = time.perf_counter()
            async with session.get(url + '/api/projects/bench/branches', params={'limit': 100}) as reply:
                assert reply.status == 200
            print(f'first branch listing (read from git) {(time.perf_counter() - started) * 1000:.0f} ms')

            bodies = trigger_bodies(range(0, args.branches, max(1, args.branches // args.requests)))[: args.requests]
            stop = asyncio.Event()
            picking = asyncio.create_task(picker(session, url, stop))
            cpu = cpu_seconds(process.pid)
            created = await phase(session, url, bodies, args.clients, 201)
            cpu = (cpu_seconds(process.pid) - cpu) * 1000 / len(bodies)
            stop.set()
            picks = await picking

            unknown = []
            for _ in range(args.unknown):
                body = {
                    'project_id': 'bench',
                    'branch': f'no-such-branch/{uuid.uuid4().hex[:8]}',
                    'depth_level': 'shallow',
                    'target_framework': 'python',
                }
                started = time.perf_counter()
                async with session.post(url + '/api/runs', json=body) as reply:
                    await reply.read()
                    assert reply.status == 422, reply.status
                unknown.append(time.perf_counter() - started)
            unknown.sort()
    finally:
        process.terminate()
        process.wait(20)
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f'triggers, {args.clients} clients, {len(bodies)} distinct branches: {created["per_second"]:.0f} runs/s  '
        f'p50 {created["p50_ms"]:.1f} ms  p99 {created["p99_ms"]:.1f} ms  errors {created["errors"]}  '
        f'server CPU {cpu:.2f} ms/request'
    )
    print(
        f'picker search during the triggers ({len(picks)} searches): p50 {percentile(picks, 0.5) * 1000:.1f} ms  '
        f'p99 {percentile(picks, 0.99) * 1000:.1f} ms'
    )
    print(
        f'unknown branch -> 422 ({len(unknown)} sequential): median {statistics.median(unknown) * 1000:.1f} ms  '
        f'max {unknown[-1] * 1000:.1f} ms'
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--branches', type=int, default=40_000)
    parser.add_argument('--requests', type=int, default=2000)
    parser.add_argument('--clients', type=int, default=16)
    parser.add_argument('--unknown', type=int, default=100)
    asyncio.run(bench(parser.parse_args()))


if __name__ == '__main__':
    main()
