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
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lists import seeded_server, timed  # noqa: E402


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
    with seeded_server(args.runs, 'rb-history-', more_projects=('other',)) as server:
        cases = [
            ('GET /api/projects/bench/history (50 runs, 30 days)', '/api/projects/bench/history', {}),
            ('  ... limit=500', '/api/projects/bench/history', {'limit': 500}),
            ('  ... branch=b/7', '/api/projects/bench/history', {'branch': 'b/7'}),
            ('  ... days=90&utc_offset=120', '/api/projects/bench/history', {'days': 90, 'utc_offset': 120}),
            ('GET /api/history?project=bench,other&limit=20', '/api/history', {'project': 'bench,other'}),
        ]
        for days in (30, 365):
            spread(server.db, args.runs, days)
            window = server.db.execute(
                "SELECT count(*) FROM run WHERE project_id = 'bench' AND created_at >= datetime('now', '-30 days')"
            ).fetchone()[0]
            print(f'-- runs spread over the last {days} days: {window} of them in the 30-day window')
            for name, path, params in cases:
                median, p90, size = timed(server.client, path, params, args.samples)
                print(f'{name:<52} median {median:7.1f} ms  p90 {p90:7.1f} ms  ({size} bytes)')


if __name__ == '__main__':
    main()
