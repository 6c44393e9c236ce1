"""Run history at a large table: GET /api/projects/{id}/history (newest runs + 30 days by outcome) and the
dashboard's batch GET /api/history?project=..., with N finished runs in one project. Prints figures;
asserts nothing.

    python bench/history.py [--runs 100000] [--samples 30]

Starts `python main.py` on SQLite, creates two projects, puts N finished runs of the first straight into the
database (bench/seed.py), then spreads their creation times over the last 30 days (the worst case for the
per-day query: every run is inside its window) and, second, over the last 365 days (a project with a long
past: the window holds a twelfth of them). Each request is timed from one client (median and p90 of
--samples, after one warm-up).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lists import timed  # noqa: E402
from seed import seed  # noqa: E402
from trigger_api import make_repo  # noqa: E402

from tests.helpers.servers import app_process  # noqa: E402


def spread(conn: sqlite3.Connection, runs: int, days: int) -> None:
    """Stretch the seeded runs (in insertion order) evenly over the last `days` days, each taking 30 seconds."""
    conn.execute(
        "UPDATE run SET created_at = datetime('now', :back, '+' || ((rowid - :first) * :step) || ' seconds') "
        "WHERE project_id = 'bench'",
        {
            'back': f'-{days} days',
            'first': conn.execute("SELECT min(rowid) FROM run WHERE project_id = 'bench'").fetchone()[0],
            'step': days * 86400 / runs,
        },
    )
    conn.execute(
        "UPDATE run SET started_at = created_at, finished_at = datetime(created_at, '+30 seconds') "
        "WHERE project_id = 'bench'"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=100_000)
    parser.add_argument('--samples', type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='rb-history-') as tmp:
        base = Path(tmp)
        repo = make_repo(base / 'repo', 10)
        data = base / 'data'
        env = {'RUNBOARD_DEMO': 'false', 'RUNBOARD_GLOBAL_RUN_CAP': '0'}
        with app_process(data, env=env) as app:
            token = json.loads((data / 'credentials.json').read_text())['token']
            client = httpx.Client(base_url=app['url'], headers={'Authorization': f'Bearer {token}'}, timeout=60)
            project = {}
            for project_id in ('bench', 'other'):
                body = {'id': project_id, 'name': project_id.title(), 'repository': str(repo), 'command': ['true']}
                project = client.post('/api/projects', json=body).json() if project_id == 'bench' else project
                if project_id == 'other':
                    client.post('/api/projects', json=body).raise_for_status()
            user_id = client.get('/api/me').json()['user_id']
            conn = sqlite3.connect(data / 'runboard.db', isolation_level=None, timeout=60)
            started = time.perf_counter()
            seed(conn, args.runs, 'bench', project['repository_key'], user_id, 'rb')
            print(f'{args.runs} runs seeded in {time.perf_counter() - started:.1f} s; one client, SQLite')
            cases = [
                ('GET /api/projects/bench/history (50 runs, 30 days)', '/api/projects/bench/history', {}),
                ('  ... limit=500', '/api/projects/bench/history', {'limit': 500}),
                ('  ... branch=b/7', '/api/projects/bench/history', {'branch': 'b/7'}),
                ('  ... days=90&utc_offset=120', '/api/projects/bench/history', {'days': 90, 'utc_offset': 120}),
                ('GET /api/history?project=bench,other&limit=20', '/api/history', {'project': 'bench,other'}),
            ]
            for days in (30, 365):
                spread(conn, args.runs, days)
                window = conn.execute(
                    "SELECT count(*) FROM run WHERE project_id = 'bench' AND created_at >= datetime('now', '-30 days')"
                ).fetchone()[0]
                print(f'-- runs spread over the last {days} days: {window} of them in the 30-day window')
                for name, path, params in cases:
                    median, p90, size = timed(client, path, params, args.samples)
                    print(f'{name:<52} median {median:7.1f} ms  p90 {p90:7.1f} ms  ({size} bytes)')
            conn.close()


if __name__ == '__main__':
    main()
