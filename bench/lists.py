"""Reads at large tables: the runs list (each filter), one run, the projects, and the dashboard's first
paint in Chromium, with N finished runs in the table. Prints figures; asserts nothing.

    python bench/lists.py [--runs 100000] [--samples 30]

Starts `python main.py` on SQLite, creates a project, puts N finished runs (and their key rows) straight
into the database (bench/seed.py), then times each request from one client (median and p90 of
--samples, after one warm-up) and the dashboard from navigation start to its runs list drawn.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from seed import seed  # noqa: E402
from trigger_api import make_repo  # noqa: E402

from tests.helpers.e2e import CHROMIUM_ARGS  # noqa: E402
from tests.helpers.servers import app_process  # noqa: E402


def timed(client: httpx.Client, path: str, params: dict, samples: int) -> tuple[float, float, int]:
    client.get(path, params=params).raise_for_status()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        reply = client.get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        reply.raise_for_status()
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))], len(reply.content)


@dataclass
class SeededServer:
    """`python main.py` on SQLite with project `bench` holding N seeded runs (bench/seed.py)."""

    url: str
    token: str
    client: httpx.Client
    user_id: str
    db: sqlite3.Connection  # the server's database, for a bench that reshapes the seeded rows


COMMITS = 200  # the seeded runs ran these in turn: a page of 50 names 50 commits, as a busy repository's would


def add_commits(repo: Path, count: int) -> list[str]:
    """`count` commits on main, each titled, oldest first (fast-import: one git call)."""
    stream = []
    for n in range(count):
        title = f'Change number {n} of the bench'
        stream.append(f'commit refs/heads/main\ncommitter b <b@example.invalid> {1_770_000_000 + n} +0000\n')
        stream.append(f'data {len(title)}\n{title}\n')
        if n == 0:
            stream.append('from refs/heads/main^0\n')
        stream.append('\n')
    subprocess.run(['git', 'fast-import', '--quiet'], cwd=repo, input=''.join(stream), text=True, check=True)
    listing = subprocess.run(
        ['git', 'rev-list', '--reverse', f'-{count}', 'main'], cwd=repo, capture_output=True, text=True, check=True
    )
    return listing.stdout.split()


@contextmanager
def seeded_server(runs: int, prefix: str, more_projects: tuple[str, ...] = ()) -> Iterator[SeededServer]:
    """Start the server, create `bench` (and `more_projects`, empty), seed `runs` runs into `bench`."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        base = Path(tmp)
        repo = make_repo(base / 'repo', 10)
        commits = add_commits(repo, COMMITS)
        data = base / 'data'
        env = {'RUNBOARD_DEMO': 'false', 'RUNBOARD_GLOBAL_RUN_CAP': '0'}
        with app_process(data, env=env) as app:
            token = json.loads((data / 'credentials.json').read_text())['token']
            client = httpx.Client(base_url=app['url'], headers={'Authorization': f'Bearer {token}'}, timeout=60)
            projects = {}
            for project_id in ('bench', *more_projects):
                body = {'id': project_id, 'name': project_id.title(), 'repository': str(repo), 'command': ['true']}
                reply = client.post('/api/projects', json=body)
                reply.raise_for_status()
                projects[project_id] = reply.json()
            user_id = client.get('/api/me').json()['user_id']
            db = sqlite3.connect(data / 'runboard.db', isolation_level=None, timeout=60)
            started = time.perf_counter()
            seed(db, runs, 'bench', projects['bench']['repository_key'], user_id, 'rb', commits)
            print(f'{runs} runs seeded in {time.perf_counter() - started:.1f} s; one client, SQLite')
            try:
                yield SeededServer(app['url'], token, client, user_id, db)
            finally:
                db.close()
                client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=100_000)
    parser.add_argument('--samples', type=int, default=30)
    args = parser.parse_args()
    with seeded_server(args.runs, 'rb-lists-') as server:
        client, user_id = server.client, server.user_id
        started = time.perf_counter()
        first = client.get('/api/runs', params={'limit': 50}).json()['items']
        learned = sum(1 for run in first if run.get('commit_title'))
        print(f'first read of a page: {(time.perf_counter() - started) * 1000:.1f} ms ({learned} commit titles read)')
        newest = client.get('/api/runs', params={'limit': 1}).json()['items'][0]['id']
        cases = [
            ('GET /api/runs?limit=50', '/api/runs', {'limit': 50}),
            ('GET /api/runs?limit=50&status=failed', '/api/runs', {'limit': 50, 'status': 'failed'}),
            ('GET /api/runs?limit=50&status=queued (none)', '/api/runs', {'limit': 50, 'status': 'queued'}),
            ('GET /api/runs?limit=50&project=bench', '/api/runs', {'limit': 50, 'project': 'bench'}),
            ('GET /api/runs?limit=50&branch=b/7', '/api/runs', {'limit': 50, 'branch': 'b/7'}),
            ('GET /api/runs?limit=50&user=<me>', '/api/runs', {'limit': 50, 'user': user_id}),
            ('GET /api/runs?limit=50&kind=retry (none)', '/api/runs', {'limit': 50, 'kind': 'retry'}),
            ('GET /api/runs?limit=50, page 100 (cursor)', '/api/runs', None),
            ('GET /api/runs/{id}', f'/api/runs/{newest}', {}),
            ('GET /api/projects', '/api/projects', {}),
        ]
        cursor = None
        for _ in range(100):
            page = client.get('/api/runs', params={'limit': 50, **({'cursor': cursor} if cursor else {})}).json()
            cursor = page['next_cursor']
        for name, path, params in cases:
            median, p90, size = timed(
                client, path, params if params is not None else {'limit': 50, 'cursor': cursor}, args.samples
            )
            print(f'{name:<48} median {median:7.1f} ms  p90 {p90:7.1f} ms  ({size} bytes)')
        first_paint(server.url, server.token, args.samples // 3 or 1)


def first_paint(url: str, token: str, samples: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path='/usr/bin/chromium', args=CHROMIUM_ARGS)
        page = browser.new_page()
        times = []
        for n in range(samples + 1):
            started = time.perf_counter()
            page.goto(url + '/')
            page.wait_for_selector('[data-testid=runs][data-loaded=true] [data-run]', timeout=60_000)
            if n:  # the first load warms the server's page code
                times.append((time.perf_counter() - started) * 1000)
        browser.close()
    times.sort()
    print(
        f'{"dashboard: navigation -> runs list drawn":<48} median {statistics.median(times):7.1f} ms  '
        f'p90 {times[int(0.9 * (len(times) - 1))]:7.1f} ms'
    )


if __name__ == '__main__':
    main()
