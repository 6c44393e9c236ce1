"""The Celery executor against the local one: dispatch latency (the admitting commit -> `running`) and
the drain rate of trivial runs, each beside its bare references (bench/bare_celery.py: the same work without
Runboard, i.e. the commit's tree by `git archive | tar` and `sh -c true` in it, issue 40's reference; and, with the
sandbox on, a checkout of its own and `sh -c true` in bwrap, the work a run cannot skip, so that ratio is the cost
of Runboard's bookkeeping alone). Prints figures; asserts nothing.

    python bench/workers.py [--runs 1000] [--workers 2] [--slots 4] [--idle 20] [--sandbox auto|off|both]
        [--executors local,celery] [--no-reference] [--database postgresql|sqlite]

References, run right before their executor so both see the same machine: bare Celery (the same broker,
--workers worker processes of --slots threads, --runs tasks) beside the Celery executor; a bare
ThreadPoolExecutor of the local executor's cap beside the local executor.

Needs the team backend on loopback (the local executor with --database sqlite does not): PostgreSQL (database
`test`, a fresh schema per executor) and Redis
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
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bare_celery import TASK as BARE_TASK  # noqa: E402
from bare_celery import WORK  # noqa: E402
from trigger_api import ROOT, free_port, make_repo, percentile, server_env  # noqa: E402

PG = 'postgresql+psycopg://postgres@127.0.0.1:5432/test'
REFERENCE_WORK = {
    'tree': 'tree + sh -c true (issue 40)',
    'checkout': 'a checkout of its own + sh -c true in bwrap (what a run cannot skip)',
}
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


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) of these processes and of the children they reaped (git, bwrap, the commands)."""
    total = 0
    for pid in pids:
        fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
        total += sum(int(tick) for tick in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf('SC_CLK_TCK')


def moment(value: datetime | str) -> datetime:
    """A timestamp as PostgreSQL (datetime) or SQLite (ISO text, UTC) returns it."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value).replace(tzinfo=UTC)


def head_of(repo: Path) -> str:
    return subprocess.run(
        ['git', 'rev-parse', 'HEAD'], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def bare_pool_rate(args: argparse.Namespace, repo: Path, work: str) -> float:
    """Tasks/s of the trivial run's work in a bare ThreadPoolExecutor of the local executor's cap."""
    commit = head_of(repo)
    started, cpu = time.perf_counter(), cpu_seconds([os.getpid()])
    with ThreadPoolExecutor(args.workers * args.slots) as pool:
        list(pool.map(lambda _: WORK[work](str(repo), commit), range(args.runs)))
    rate = args.runs / (time.perf_counter() - started)
    print(f'  reference CPU per task {(cpu_seconds([os.getpid()]) - cpu) / args.runs * 1000:.1f} ms')
    return rate


def bare_celery_rate(args: argparse.Namespace, root: Path, repo: Path, work: str) -> float:
    """Tasks/s of the trivial run's work on bare Celery: --workers processes of --slots threads, same broker."""
    import redis  # noqa: PLC0415 (only the reference needs it)
    from bare_celery import app as bare  # noqa: PLC0415 (its broker is read from the environment at import)

    queue = f'bare-{uuid.uuid4().hex[:8]}'
    counter = f'{queue}:done'
    env = {**os.environ, 'BARE_CELERY_BROKER': REDIS, 'PYTHONPATH': str(Path(__file__).resolve().parent)}
    processes = [
        start(
            [
                sys.executable,
                '-m',
                'celery',
                '-A',
                'bare_celery',
                'worker',
                '--pool=threads',
                f'--concurrency={args.slots}',
                '--without-gossip',
                '--without-mingle',
                '--loglevel=WARNING',
                f'--hostname=bare{n}@%h',
                f'--queues={queue}',
            ],
            env,
            root / f'bare-worker-{n}.log',
        )
        for n in range(args.workers)
    ]
    store = redis.Redis.from_url(REDIS)
    try:
        while (
            len(
                bare.control.ping(
                    timeout=0.5, destination=[f'bare{n}@{os.uname().nodename}' for n in range(args.workers)]
                )
                or []
            )
            < args.workers
        ):
            time.sleep(0.2)
        commit = head_of(repo)
        pids = [process.pid for process in processes]
        started, cpu = time.perf_counter(), cpu_seconds(pids)
        for _ in range(args.runs):
            bare.send_task(BARE_TASK, args=[str(repo), commit, counter, work], queue=queue)
        while int(store.get(counter) or 0) < args.runs:
            time.sleep(0.01)
        rate = args.runs / (time.perf_counter() - started)
        print(f'  reference CPU per task (workers) {(cpu_seconds(pids) - cpu) / args.runs * 1000:.1f} ms')
        return rate
    finally:
        for process in processes:
            stop(process)
        store.delete(counter, queue)


def one(executor: str, sandbox: str, args: argparse.Namespace, root: Path, repo: Path) -> float:
    schema = f'bench_{uuid.uuid4().hex[:8]}'
    data = root / f'data-{executor}-{sandbox}-{schema}'
    embedded = executor == 'local' and args.database == 'sqlite'  # local mode as a person starts it: no services
    admin = sa.create_engine(PG, isolation_level='AUTOCOMMIT')
    if embedded:
        url = f'sqlite:///{data / "runboard.db"}'
        backend = {}
    else:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA {schema}'))
        url = f'{PG}?options=-csearch_path%3D{schema}'
        backend = {'RUNBOARD_DATABASE_URL': url, 'RUNBOARD_REDIS_URL': REDIS, 'RUNBOARD_REDIS_PREFIX': schema}
        backend['RUNBOARD_SECRET_KEY'] = Fernet.generate_key().decode()  # the server's and every worker's
    env = {
        **server_env(data),
        **backend,
        'RUNBOARD_EXECUTOR': executor,
        'RUNBOARD_GLOBAL_RUN_CAP': str(args.workers * args.slots),
        'RUNBOARD_SANDBOX': sandbox,
        'RUNBOARD_RUN_LIMITS': args.run_limits,  # auto: each run in a cgroup of its own where this machine allows
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

        pids = [process.pid for process in processes]
        started, cpu = time.perf_counter(), cpu_seconds(pids)
        cpu_seconds_at = [cpu_seconds(pids[:1])]
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
        server_cpu = cpu_seconds(pids[:1]) - cpu_seconds_at[0]
        cpu = cpu_seconds(pids) - cpu
        with engine.connect() as conn:
            rows = conn.execute(sa.text('SELECT created_at, started_at, finished_at, status FROM run')).all()
            errors = conn.execute(
                sa.text(
                    "SELECT status, coalesce(error, ''), count(*) FROM run WHERE status <> 'succeeded' "
                    'GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 5'
                )
            ).all()
        latencies = sorted((moment(started) - moment(created)).total_seconds() for created, started, _, _ in rows)
        statuses = {status for *_, status in rows}
        first_start = min(moment(started) for _, started, _, _ in rows)
        last_end = max(moment(finished) for _, _, finished, _ in rows)
        rate = args.runs / seconds
        print(
            f'{executor:6}: {args.runs} runs drained in {seconds:.1f} s ({rate:.1f} runs/s from the first trigger; '
            f'{args.runs / (last_end - first_start).total_seconds():.1f} runs/s first start -> last end); '
            f'dispatch latency p50 {percentile(latencies, 0.5) * 1000:.0f} ms '
            f'p99 {percentile(latencies, 0.99) * 1000:.0f} ms '
            f'mean {statistics.mean(latencies) * 1000:.0f} ms; statuses {sorted(statuses)}'
        )
        walls = sorted((moment(finished) - moment(started)).total_seconds() for _, started, finished, _ in rows)
        busy = sum(walls) / (int(env['RUNBOARD_GLOBAL_RUN_CAP']) * (last_end - first_start).total_seconds())
        print(  # a slot holds a run from its start to its end; the rest of its time it waits for the next one
            f'  a run in its slot (started -> finished): p50 {percentile(walls, 0.5) * 1000:.0f} ms '
            f'p99 {percentile(walls, 0.99) * 1000:.0f} ms; slots busy {busy:.0%} of the drain'
        )
        for status, error, count in errors:  # a drain that did not run everything says why
            print(f'  {count} {status}: {error[:200]}')
        print(
            f'  CPU per run (server + workers, their children included) {cpu / args.runs * 1000:.1f} ms, '
            f'of which the server (admission, dispatch) {server_cpu / args.runs * 1000:.1f} ms'
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
        return rate
    finally:
        for process in reversed(processes):
            stop(process)
        if not embedded:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA {schema} CASCADE'))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--runs', type=int, default=1000)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--slots', type=int, default=4)
    parser.add_argument('--idle', type=int, default=20, help='runs timed one at a time on idle workers')
    parser.add_argument('--sandbox', choices=['auto', 'off', 'both'], default='auto', help='RUNBOARD_SANDBOX')
    parser.add_argument('--executors', default='local,celery', help='which executors, in order')
    parser.add_argument(
        '--run-limits', choices=['auto', 'off'], default='auto', help='RUNBOARD_RUN_LIMITS (a cgroup per run)'
    )
    parser.add_argument('--no-reference', action='store_true', help='skip the bare references')
    parser.add_argument(
        '--database',
        choices=['postgresql', 'sqlite'],
        default='postgresql',
        help="the local executor on PostgreSQL + Redis (as issue 40 measured it) or on local mode's embedded SQLite",
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix='rb-workers-'))
    repo = make_repo(root / 'repo', args.runs)
    print(f'{args.workers} workers x {args.slots} slots (the local executor: global cap {args.workers * args.slots})')
    for sandbox in ('auto', 'off') if args.sandbox == 'both' else (args.sandbox,):
        for executor in args.executors.split(','):
            print(f'-- RUNBOARD_SANDBOX={sandbox}')
            references = []  # (tasks/s, what)
            if not args.no_reference:
                for work in ('tree', 'checkout') if sandbox != 'off' else ('tree',):
                    what = REFERENCE_WORK[work]
                    if executor == 'celery':
                        rate = bare_celery_rate(args, root, repo, work)
                        what = f'bare Celery ({args.workers} x {args.slots} threads), {what}'
                    else:
                        rate = bare_pool_rate(args, repo, work)
                        what = f'bare ThreadPoolExecutor({args.workers * args.slots}), {what}'
                    print(f'{executor:6}: reference, {what}: {rate:.1f} tasks/s')
                    references.append((rate, work))
            rate = one(executor, sandbox, args, root, repo)
            for reference, work in references:
                ratio = rate / reference
                print(f'{executor:6}: {rate:.1f} runs/s against {reference:.1f} tasks/s ({work}): ratio {ratio:.2f}')


if __name__ == '__main__':
    main()
