"""Finished runs put straight into a SQLite database, for the benches that measure at large tables."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta


def seed(
    conn: sqlite3.Connection,
    count: int,
    project: str,
    repository_key: str,
    user: str,
    prefix: str,
    commits: Sequence[str] = (),
) -> None:
    """`count` finished runs, one a second from 2026-01-01, each with its idempotency-key row; each at one of
    `commits` in turn (as a real run names the commit it ran), or at none."""
    start = datetime(2026, 1, 1)
    conn.execute('BEGIN')
    for n in range(count):
        at = (start + timedelta(seconds=n)).isoformat(sep=' ')
        run_id = f'run_0{prefix[:3]}{n:022d}'
        conn.execute(
            'INSERT INTO run (id, project_id, repository_key, kind, status, depth_level, target_framework, '
            'branch_name, checkout_ref, user_id, idempotency_key, payload_fingerprint, created_at, finished_at, '
            "budget_seconds, last_seq, output_lines, commit_sha) VALUES (?, ?, ?, 'manual', ?, 'shallow', 'python', "
            "?, ?, ?, ?, 'fp', ?, ?, 3600, 2, 1, ?)",
            (
                run_id,
                project,
                repository_key,
                ('succeeded', 'failed')[n % 7 == 0],
                f'b/{n % 500}',
                f'b/{n % 500}',
                user,
                f'seed-{n}',
                at,
                at,
                commits[n % len(commits)] if commits else None,
            ),
        )
        conn.execute(
            'INSERT INTO idempotencykey (user_id, key, fingerprint, run_id, created_at, expires_at) '
            "VALUES (?, ?, 'fp', ?, ?, '2099-01-01 00:00:00')",
            (user, f'seed-{n}', run_id, at),
        )
    conn.execute('COMMIT')
