"""A run's Tests tab at a large suite: GET /api/runs/{id}/tests (totals, failures marked against the branch and the
base branch, the tests the run fixed, skipped, slowest) with N earlier runs of T tests each. Prints figures; asserts
nothing.

    python bench/test_reports.py [--runs 60] [--tests 10000] [--samples 20]

Starts `python main.py` on SQLite with project `bench` (bench/lists.py), seeds --runs finished runs, every other one
on `main` and the rest on `feature/x`, and gives each a JUnit report of --tests cases straight in the database:
1 % of them failing, a different 1 % in each run (so every run fixes what the one before it failed, the most work
for the fixed-tests lookup), 0.5 % skipped. Times the newest run of each branch from one client (median and p90)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lists import seeded_server, timed  # noqa: E402


def reports(db, runs: list[str], tests: int) -> None:  # noqa: ANN001
    db.execute('BEGIN')
    for n, run_id in enumerate(runs):
        branch, sha = db.execute('SELECT branch_name, checkout_ref FROM run WHERE id = ?', (run_id,)).fetchone()
        failing = {(i * 97 + n * 13) % tests for i in range(tests // 100)}
        rows = []
        for i in range(tests):
            status = 'failed' if i in failing else 'skipped' if i % 200 == 0 else 'passed'
            message = f'assert {i} == {i + 1}' if status == 'failed' else None
            rows.append(
                (
                    run_id,
                    i,
                    f'tests.mod{i // 100}::test_{i}',
                    f'tests.mod{i // 100}',
                    f'test_{i}',
                    status,
                    (i % 997) / 1000,
                    message,
                    None,
                    'junit.xml',
                )
            )
        db.executemany(
            'INSERT INTO testcase (run_id, idx, test_id, classname, name, status, duration_seconds, message, trace, '
            'report) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
            rows,
        )
        failed = len(failing)
        skipped = sum(1 for r in rows if r[5] == 'skipped')
        db.execute(
            'INSERT INTO testreport (run_id, project_id, branch_name, commit_sha, reports, problems, created_at, '
            'total, passed, failed, errors, skipped, duration_seconds) '
            "VALUES (?, 'bench', ?, ?, '[\"junit.xml\"]', NULL, datetime('now'), ?, ?, ?, 0, ?, 1.0)",
            (run_id, branch, f'{sha}-{n}', tests, tests - failed - skipped, failed, skipped),
        )
    db.execute('COMMIT')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=60)
    parser.add_argument('--tests', type=int, default=10_000)
    parser.add_argument('--samples', type=int, default=20)
    args = parser.parse_args()
    with seeded_server(args.runs, 'rb-tests-') as server:
        db = server.db
        db.execute("UPDATE run SET branch_name = CASE WHEN rowid % 2 = 0 THEN 'main' ELSE 'feature/x' END")
        runs = [row[0] for row in db.execute("SELECT id FROM run WHERE project_id = 'bench' ORDER BY id")]
        reports(db, runs, args.tests)
        print(f'{len(runs)} runs with {args.tests:,} tests each ({len(runs) * args.tests:,} test cases)')
        for branch in ('main', 'feature/x'):
            newest = db.execute('SELECT max(id) FROM run WHERE branch_name = ?', (branch,)).fetchone()[0]
            answer = server.client.get(f'/api/runs/{newest}/tests').json()
            median, p90, size = timed(server.client, f'/api/runs/{newest}/tests', {}, args.samples)
            print(
                f'GET /api/runs/{{id}}/tests, newest on {branch:<9} median {median:7.1f} ms  p90 {p90:7.1f} ms  '
                f'({size:,} bytes; {len(answer["failures"])} failures, {len(answer.get("fixed") or [])} fixed)'
            )


if __name__ == '__main__':
    main()
