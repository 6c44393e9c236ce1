"""Team mode (PostgreSQL + Redis): POST /runs on one `python main.py` instance, then on two instances
sharing the database and the bus, the same clients split between them (at least one each). Prints figures;
asserts nothing.

    python bench/team.py [--requests 4000] [--clients 16] [--py-spy FILE] [--syscalls]

Needs PostgreSQL (127.0.0.1:5432, trust, database `test`; a fresh schema per phase) and Redis
(127.0.0.1:6379). On a 2-core machine the client and both servers share the cores, so the total cannot
double; server CPU per admission shows what more machines would give.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trigger_api import ROOT, cpu_seconds, free_port, make_repo, phase, server_env, trigger_bodies, wait_healthy  # noqa: E402

PG = 'postgresql+psycopg://postgres@127.0.0.1:5432/test'
REDIS = 'redis://127.0.0.1:6379/0'


def loop_thread_seconds(pid: int) -> float:
    """CPU of the server's main thread, which runs the event loop (HTTP, the Redis listener); the rest of a
    process's CPU is its threads (the threadpool that admits, the engine's helpers)."""
    fields = Path(f'/proc/{pid}/task/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def system_seconds(pid: int) -> float:
    """The kernel's part of a process's CPU: on loopback, a send also does the receiver's network work."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return int(fields[12]) / os.sysconf('SC_CLK_TCK')


def trace_syscalls(pid: int, output: str) -> subprocess.Popen:
    """strace counting the system calls of the threads `pid` has now, until it is sent SIGINT (not -f: the git
    processes it starts are not its CPU)."""
    threads = [arg for tid in os.listdir(f'/proc/{pid}/task') for arg in ('-p', tid)]
    return subprocess.Popen(
        ['strace', '-c', *threads, '-o', output],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def print_syscalls(output: str, admissions: int) -> None:
    """strace -c's table, as calls per admission (the top ones)."""
    rows = []
    for line in Path(output).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != 'total':
            rows.append((int(parts[3]), parts[-1]))
    calls = sum(n for n, _ in rows)
    top = ', '.join(f'{name} {n / admissions:.2f}' for n, name in sorted(rows, reverse=True)[:8])
    print(f'    system calls: {calls / admissions:.1f} per admission ({top})')


def start(data: Path, port: int, url: str, prefix: str) -> subprocess.Popen:
    env = {
        **server_env(data),
        'RUNBOARD_DATABASE_URL': url,
        'RUNBOARD_REDIS_URL': REDIS,
        'RUNBOARD_REDIS_PREFIX': prefix,
    }
    return subprocess.Popen(
        [sys.executable, 'main.py', '--port', str(port), '--data-dir', str(data)],
        cwd=ROOT,
        env=env,
        stdout=open(data.parent / f'{data.name}.log', 'wb'),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def one_phase(instances: int, args: argparse.Namespace, workdir: Path, repo: Path) -> None:
    import aiohttp

    schema = f'bench_{uuid.uuid4().hex[:8]}'
    admin = sa.create_engine(PG, isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA {schema}'))
    url = f'{PG}?options=-csearch_path%3D{schema}'
    processes, urls = [], []
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.clients * 2)) as session:
            for n in range(instances):  # one after the other: the first one migrates the schema
                port = free_port()
                data = workdir / f'{schema}-{n}'
                data.mkdir()
                processes.append(start(data, port, url, schema))
                urls.append(f'http://127.0.0.1:{port}')
                await wait_healthy(session, urls[-1], processes[-1])
            token = json.loads((workdir / f'{schema}-0' / 'credentials.json').read_text())['token']
            session.headers['Authorization'] = f'Bearer {token}'
            project = {
                'id': 'bench',
                'name': 'Bench',
                'repository': str(repo),
                'command': ['true'],
                'max_concurrent_runs': 100_000,
            }
            async with session.post(urls[0] + '/api/projects', json=project) as reply:
                assert reply.status == 201, await reply.text()
            bodies = trigger_bodies(range(args.requests))
            await phase(session, urls[0], bodies[:50], 1, 201)  # warm-up
            rest = bodies[50:]
            spy = None
            if args.py_spy:
                spy = subprocess.Popen(
                    [
                        str(Path(sys.executable).with_name('py-spy')),  # the bench extra's
                        'record',
                        '-p',
                        str(processes[0].pid),
                        '-r',
                        '250',
                        '--format',
                        'raw',
                        '-o',
                        f'{args.py_spy}.{instances}',
                        '--nonblocking',
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                await asyncio.sleep(1)
            tracer = trace_syscalls(processes[0].pid, f'{workdir}/strace.{instances}') if args.syscalls else None
            if tracer is not None:
                await asyncio.sleep(1)  # attached
            cpu = [cpu_seconds(p.pid) for p in processes]
            kernel = [system_seconds(p.pid) for p in processes]
            loop_cpu = [loop_thread_seconds(p.pid) for p in processes]
            started = time.perf_counter()
            shares = [rest[n::instances] for n in range(instances)]
            results = await asyncio.gather(
                *(
                    phase(session, u, share, max(1, args.clients // instances), 201)
                    for u, share in zip(urls, shares, strict=True)
                )
            )
            elapsed = time.perf_counter() - started
            used = sum(cpu_seconds(p.pid) - before for p, before in zip(processes, cpu, strict=True))
            on_loop = sum(loop_thread_seconds(p.pid) - before for p, before in zip(processes, loop_cpu, strict=True))
            in_kernel = sum(system_seconds(p.pid) - before for p, before in zip(processes, kernel, strict=True))
            if tracer is not None:
                tracer.send_signal(2)
                tracer.wait(30)
            if spy is not None:
                spy.send_signal(2)
                spy.wait(30)
            ok = sum(r['ok'] for r in results)
            p99 = max(r['p99_ms'] for r in results)
            print(
                f'{instances} instance(s): {ok / elapsed:6.0f} admitted runs/s  p99 {p99:6.1f} ms  '
                f'errors {sum(r["errors"] for r in results)}  server CPU {used * 1000 / len(rest):.2f} ms per admission'
                f' (event loop {on_loop * 1000 / len(rest):.2f}, threads {(used - on_loop) * 1000 / len(rest):.2f};'
                f' in the kernel {in_kernel * 1000 / len(rest):.2f})'
            )
            if tracer is not None:
                print_syscalls(f'{workdir}/strace.{instances}', len(shares[0]))  # the first instance's share
            await replays_and_idle(session, processes, urls, shares, max(1, args.clients // instances))
    finally:
        for process in processes:
            process.terminate()
            process.wait(20)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA {schema} CASCADE'))
        admin.dispose()


async def replays_and_idle(session, processes, urls, shares, clients: int) -> None:  # noqa: ANN001
    """The same requests again (replays: HTTP, authentication, one key read, no write), then a quiet second:
    what an admission costs beyond its write, and what the servers spend on their own."""
    cpu = [cpu_seconds(p.pid) for p in processes]
    started = time.perf_counter()
    results = await asyncio.gather(
        *(phase(session, u, share, clients, 200) for u, share in zip(urls, shares, strict=True))
    )
    elapsed = time.perf_counter() - started
    used = sum(cpu_seconds(p.pid) - before for p, before in zip(processes, cpu, strict=True))
    ok = sum(r['ok'] for r in results)
    print(
        f'    replays: {ok / elapsed:6.0f}/s  errors {sum(r["errors"] for r in results)}  '
        f'server CPU {used * 1000 / max(ok, 1):.2f} ms per replay'
    )
    cpu = [cpu_seconds(p.pid) for p in processes]
    await asyncio.sleep(3)
    used = sum(cpu_seconds(p.pid) - before for p, before in zip(processes, cpu, strict=True))
    print(f'    idle: server CPU {used * 1000 / 3 / len(processes):.1f} ms per second per instance')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=4000)
    parser.add_argument('--clients', type=int, default=16)
    parser.add_argument('--py-spy', metavar='FILE', help='record the first instance into FILE.<instances>')
    parser.add_argument(
        '--syscalls', action='store_true', help="count the first instance's system calls per admission (strace)"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix='rb-team-'))
    repo = make_repo(workdir / 'repo', args.requests + 100)
    print(
        f'team mode (PostgreSQL + Redis), {args.clients} clients, {args.requests} requests, '
        f'load before: {" ".join(f"{x:.2f}" for x in os.getloadavg())}'
    )
    for instances in (1, 2):
        asyncio.run(one_phase(instances, args, workdir, repo))


if __name__ == '__main__':
    main()
