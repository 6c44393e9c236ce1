"""Live output fan-out (issue 40): many runs printing at once, followers reading them the way the run page does.

    python bench/fanout.py [--runs 20] [--rate 500] [--seconds 15] [--followers 10] [--tabs 0]
                           [--team [--workers 2]] [--find-ceiling] [--py-spy FILE]

Starts `python main.py` (tests/helpers/servers.app_process; with --team on PostgreSQL and Redis on loopback, a
fresh schema, plus `runboard worker` processes as bench/workers.py starts them) and a project whose command
prints `R` lines a second for `S` seconds, each holding its `time.time()`. It triggers N runs at once; K
followers each follow one run as the run page does (app/state/live.py, app/pages/log_panel.py): the
`/api/events?run=` stream, and on each `run.output` a read of `GET /api/runs/{id}/events?after=` until it has
everything (one read at a time; an event during a read asks for one more). --tabs opens that many Chromium
tabs on run pages (and one on the dashboard) while it runs, so the UI's own follow costs count.

Reports lines printed vs stored, the ingest rate, the lag from a line's print to its follower (p50/p90/p99/max),
and the CPU (% of one core) and RSS of the server (and the workers) sampled each second. --find-ceiling steps
the aggregate lines/s up (each step a fresh batch of runs on the same server) and prints the largest this
machine holds with follower lag p99 <= 1 s and no line lost. The machine is shared: compare figures taken back
to back, and prefer CPU per line to wall-clock figures. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / 'bench'))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from trigger_api import cpu_seconds, percentile  # noqa: E402
from workers import PG, REDIS, start, stop  # noqa: E402

from app.client import ApiError, RunboardClient  # noqa: E402
from tests.helpers.repos import add_branches, make_repo  # noqa: E402
from tests.helpers.servers import app_process  # noqa: E402

# paces itself: every 10 ms it prints the lines due by then, each stamped when printed
EMIT = """import sys, time
rate, seconds = float(sys.argv[1]), float(sys.argv[2])
total, start, n = int(rate * seconds), time.time(), 0
while n < total:
    due = min(total, int((time.time() - start) * rate) + 1)
    while n < due:
        sys.stdout.write(f'{n} {time.time():.6f}\\n')
        n += 1
    sys.stdout.flush()
    time.sleep(0.01)
"""
FETCH_PAGE = 5000  # as the run page reads (app/pages/log_panel.py)


def rss_mb(pid: int) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """CPU (% of one core) and RSS of some processes, once a second, in a thread."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.samples: list[tuple[float, dict[str, float], dict[str, float]]] = []  # (t, cpu s, rss MB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                cpu = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
                rss = {name: rss_mb(pid) for name, pid in self.pids.items()}
                self.samples.append((time.monotonic(), cpu, rss))
            self._stop.wait(1.0)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def report(self, name: str, since: float, until: float, lines: int) -> str:
        window = [s for s in self.samples if since <= s[0] <= until]
        if len(window) < 2:
            return f'{name}: too few samples'
        cpu_seconds = window[-1][1][name] - window[0][1][name]
        cpu = cpu_seconds / (window[-1][0] - window[0][0]) * 100
        rss = [s[2][name] for s in window]
        settled = [s[2][name] for s in window if s[0] >= since + 10] or rss
        return (
            f'{name}: CPU {cpu:.0f} % of a core ({cpu_seconds * 1e6 / max(lines, 1):.1f} µs per line stored); '
            f'RSS {rss[0]:.0f} -> {rss[-1]:.0f} MB '
            f'(after the first 10 s {min(settled):.0f}..{max(settled):.0f} MB)'
        )


async def follow(client: RunboardClient, run_id: str, lags: list[float], done: asyncio.Event) -> tuple[int, int]:
    """Follows one run as the run page does; returns the output lines it saw and the reads it made."""
    seen, reads, last_seq, again = 0, 0, 0, False
    reading: asyncio.Task | None = None

    async def read() -> None:
        nonlocal seen, reads, last_seq, again
        while True:
            again = False
            while True:
                reads += 1
                events = await client.run_events(run_id, after=last_seq, limit=FETCH_PAGE)
                now = time.time()
                for event in events:
                    last_seq = max(last_seq, event['seq'])
                    if event['type'] == 'output':
                        seen += 1
                        lags.append(now - float(event['text'].split()[1]))
                if len(events) < FETCH_PAGE:
                    break
            if not again:
                return

    def wake() -> None:
        nonlocal reading, again
        if reading is not None and not reading.done():
            again = True
        else:
            reading = asyncio.create_task(read())

    async def stream() -> None:
        async for event in client.events(run=run_id, on_open=wake):
            if event.get('type') == 'run.output' or event.get('type') == 'run':
                wake()

    streaming = asyncio.create_task(stream())
    await done.wait()
    wake()  # the lines stored with the terminal status
    while reading is not None and not reading.done():
        await reading
        if again:
            wake()
    streaming.cancel()
    with contextlib.suppress(asyncio.CancelledError, ApiError):
        await streaming
    return seen, reads


async def one_batch(
    base: str, token: str, project: str, branches: list[str], followers: int, tabs: int, sign_in_url: str | None
) -> dict:
    """A run on each branch at once, K followers; the figures of this batch."""
    runs = len(branches)
    async with RunboardClient(base, token, timeout=60.0) as client:
        started = time.monotonic()
        ids: list[str] = []
        lags: list[float] = []
        done: dict[str, asyncio.Event] = {}
        follower_clients = [RunboardClient(base, token, timeout=60.0) for _ in range(followers)]
        tasks = []
        for branch in branches:  # one branch each: a branch is locked while a run on it is active
            reply = await client.trigger_run(
                project_id=project,
                branch=branch,
                depth_level='shallow',
                target_framework='python',
                key=uuid.uuid4().hex,
            )
            run_id = reply.data['id']
            ids.append(run_id)
            done[run_id] = asyncio.Event()
            # its followers start as soon as it is admitted, as a person's page does when they press Run: a
            # follower that starts after the last trigger would count the wait for the other triggers as lag
            tasks += [
                asyncio.create_task(follow(c, run_id, lags, done[run_id]))
                for i, c in enumerate(follower_clients)
                if i % runs == len(ids) - 1
            ]
        browser = await open_tabs(base, sign_in_url, ids[:tabs]) if tabs else None
        finals: dict[str, dict] = {}
        while len(finals) < runs:  # one list read a second: the bench's own load stays small
            await asyncio.sleep(1.0)
            page = await client.list_runs(project=project, limit=runs)
            for run in page['items']:
                if run['id'] not in finals and run['status'] not in ('queued', 'running'):
                    finals[run['id']] = run
                    done[run['id']].set()
        ended = time.monotonic()
        followed = await asyncio.gather(*tasks)
        for c in follower_clients:
            await c.aclose()
        if browser is not None:
            await browser()
    return {
        'ids': ids,
        'finals': finals,
        'lags': sorted(lags),
        'seen': sum(n for n, _ in followed),
        'reads': sum(n for _, n in followed),
        'started': started,
        'ended': ended,
    }


async def open_tabs(base: str, sign_in_url: str | None, run_ids: list[str]):  # noqa: ANN201
    """Chromium tabs on these runs' pages and one on the dashboard; returns the coroutine function closing them."""
    from playwright.async_api import async_playwright

    from tests.helpers.e2e import CHROMIUM_ARGS

    playwright = await async_playwright().start()
    browser = await playwright.chromium.launch(executable_path='/usr/bin/chromium', args=CHROMIUM_ARGS)
    context = await browser.new_context()
    if sign_in_url:
        await context.request.get(sign_in_url, max_redirects=0)
    for path in [f'/runs/{run_id}' for run_id in run_ids] + ['/']:
        page = await context.new_page()
        await page.goto(base + path)

    async def close() -> None:
        await browser.close()
        await playwright.stop()

    return close


def stored_lines(database_url: str | None, data_dir: Path, ids: list[str]) -> int:
    url = database_url or f'sqlite:///{data_dir / "runboard.db"}'
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT count(*) FROM runevent WHERE type = 'output' AND run_id IN :ids").bindparams(
                    sa.bindparam('ids', expanding=True)
                ),
                {'ids': ids},
            ).scalar_one()
    finally:
        engine.dispose()


def print_batch(label: str, figures: dict, printed: int, stored: int, sampler: Sampler, names: list[str]) -> None:
    lags = figures['lags']
    seconds = figures['ended'] - figures['started']
    statuses = sorted({run['status'] for run in figures['finals'].values()})
    print(
        f'{label}: printed {printed:,}, stored {stored:,} ({printed - stored:,} lost), statuses {statuses}; '
        f'ingest {stored / seconds:,.0f} lines/s over {seconds:.1f} s'
    )
    print(
        f'  follower lag over {len(lags):,} lines: p50 {percentile(lags, 0.5) * 1000:.0f} ms, '
        f'p90 {percentile(lags, 0.9) * 1000:.0f} ms, p99 {percentile(lags, 0.99) * 1000:.0f} ms, '
        f'max {(lags[-1] if lags else float("nan")) * 1000:.0f} ms; {figures["reads"]:,} reads '
        f'({figures["seen"] / max(figures["reads"], 1):.0f} lines each)'
    )
    for name in names:
        print('  ' + sampler.report(name, figures['started'], figures['ended'], stored))


@contextlib.contextmanager
def team_backend(root: Path) -> Iterator[dict[str, str]]:
    schema = f'fanout_{uuid.uuid4().hex[:8]}'
    admin = sa.create_engine(PG, isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA {schema}'))
    try:
        yield {
            'RUNBOARD_DATABASE_URL': f'{PG}?options=-csearch_path%3D{schema}',
            'RUNBOARD_REDIS_URL': REDIS,
            'RUNBOARD_REDIS_PREFIX': schema,
            'RUNBOARD_EXECUTOR': 'celery',
            'RUNBOARD_SECRET_KEY': Fernet.generate_key().decode(),  # the server's and every worker's
        }
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA {schema} CASCADE'))
        admin.dispose()


def main() -> None:  # noqa: PLR0915
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=20)
    parser.add_argument('--rate', type=float, default=500, help='lines a second each run prints')
    parser.add_argument('--seconds', type=float, default=15)
    parser.add_argument('--followers', type=int, default=10)
    parser.add_argument('--tabs', type=int, default=0, help='Chromium tabs on run pages (plus one on the dashboard)')
    parser.add_argument('--team', action='store_true', help='PostgreSQL + Redis + Celery workers on loopback')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--find-ceiling', action='store_true', help='step the aggregate lines/s up')
    parser.add_argument(
        '--py-spy',
        help='record the server with py-spy into this file: .txt collapsed stacks, .json speedscope, else svg',
    )
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix='rb-fanout-'))
    repo = make_repo(root / 'repo', {'main': {'emit.py': EMIT}})
    data = root / 'data'
    with contextlib.ExitStack() as stack:
        env = {
            'RUNBOARD_DEMO': 'false',
            'RUNBOARD_GLOBAL_RUN_CAP': str(max(args.runs, 1)),
            'RUNBOARD_RATE_LIMIT_RUNS': '10000000',
            'RUNBOARD_ALLOW_LOCAL_REPOSITORIES': 'true',
            'RUNBOARD_HEARTBEAT_SECONDS': '1.0',
        }
        if args.team:
            env.update(stack.enter_context(team_backend(root)))
        server = stack.enter_context(app_process(data, env=env, log_path=root / 'server.log'))
        pids = {'server': server['process'].pid}
        token = json.loads((data / 'credentials.json').read_text())['token']
        if args.team:
            slots = -(-args.runs // args.workers)
            for n in range(args.workers):
                worker_env = {**os.environ, **env, 'RUNBOARD_DATA_DIR': str(root / f'worker-{n}')}
                worker_env = {k: v for k, v in worker_env.items() if not k.startswith(('PYTEST', 'NICEGUI'))}
                argv = [sys.executable, '-m', 'app.cli', 'worker', '--slots', str(slots), '--name', f'w{n}@%h']
                process = start(argv, worker_env, root / f'worker-{n}.log')
                stack.callback(stop, process)
                pids[f'worker {n}'] = process.pid
        http = stack.enter_context(
            httpx.Client(base_url=server['url'], headers={'Authorization': f'Bearer {token}'}, timeout=60)
        )
        while args.team and sum(w['state'] == 'live' for w in http.get('/api/workers').json()['items']) < args.workers:
            time.sleep(0.2)
        if args.py_spy:
            spy = subprocess.Popen(
                ['py-spy', 'record', '--pid', str(server['process'].pid), '--output', args.py_spy, '--rate', '50',
                 '--format', {'.json': 'speedscope', '.txt': 'raw'}.get(Path(args.py_spy).suffix, 'flamegraph'),
                 '--nonblocking'],
            )  # fmt: skip
        sampler = stack.enter_context(Sampler(pids))
        backend = 'PostgreSQL + Redis, Celery workers' if args.team else 'SQLite, local executor'
        print(
            f'{backend}; {args.runs} runs x {args.rate:.0f} lines/s x {args.seconds:.0f} s, {args.followers} followers'
        )

        def batch(rate: float, seconds: float, label: str) -> tuple[dict, int, int]:
            project = f'p{uuid.uuid4().hex[:6]}'
            body = {
                'id': project,
                'name': project,
                'repository': str(repo),
                'base_branch': 'main',
                'command': ['/usr/bin/python3', 'emit.py', str(rate), str(seconds)],
                'max_concurrent_runs': 10_000,
            }
            http.post('/api/projects', json=body).raise_for_status()
            figures = asyncio.run(
                one_batch(
                    server['url'],
                    token,
                    project,
                    add_branches(repo, args.runs, prefix=f'{project}/'),
                    args.followers,
                    args.tabs,
                    server.get('sign_in_url'),
                )
            )
            printed = args.runs * int(rate * seconds)
            stored = stored_lines(env.get('RUNBOARD_DATABASE_URL'), data, figures['ids'])
            print_batch(label, figures, printed, stored, sampler, list(pids))
            return figures, printed, stored

        batch(50, 2, 'warm-up (not counted)')
        if not args.find_ceiling:
            batch(args.rate, args.seconds, f'{args.runs * args.rate:,.0f} lines/s')
        else:
            held = 0.0
            aggregate = 2500.0
            while True:
                figures, printed, stored = batch(aggregate / args.runs, args.seconds, f'{aggregate:,.0f} lines/s')
                p99 = percentile(figures['lags'], 0.99)
                if printed != stored or p99 > 1.0:
                    break
                held = aggregate
                aggregate *= 1.5
            print(f'ceiling: {held:,.0f} lines/s held with follower lag p99 <= 1 s and no line lost')
        if args.py_spy:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
            spy.wait(60)


if __name__ == '__main__':
    main()
