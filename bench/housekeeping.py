"""What the housekeeping of this wave costs: the log retention's sweep at a large table, and a run cache's size
check when its last run ends. Prints figures; asserts nothing.

    python bench/housekeeping.py [--runs 20000] [--lines 50] [--cache-files 50000]

Log retention: `--runs` finished runs (bench/seed.py) each with `--lines` output lines, all due; one call of
`log_retention.sweep` (what a server's hourly job does) on the server's SQLite file while the server runs, then
the same call again with nothing due. Caches: a cache of `--cache-files` small files (a pip cache's shape), its
`RunCaches.acquire` and `release` (the walk that checks its size).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lists import seeded_server  # noqa: E402

from app.infra.db import dispose, make_engine  # noqa: E402
from app.services.execution.caches import RunCaches  # noqa: E402
from app.services.runs import log_retention  # noqa: E402


def log_sweep(runs: int, lines: int) -> None:
    with seeded_server(runs, 'rb-housekeeping-') as server:
        started = time.perf_counter()
        server.db.execute('BEGIN')
        for (run_id,) in server.db.execute("SELECT id FROM run WHERE project_id = 'bench'").fetchall():
            server.db.executemany(
                "INSERT INTO runevent (run_id, seq, at, type, text) VALUES (?, ?, '2026-01-01 00:00:00', ?, ?)",
                [(run_id, seq, 'output', f'line {seq} of a build log') for seq in range(3, 3 + lines)],
            )
        server.db.execute('COMMIT')
        print(f'{runs * lines:,} output lines seeded in {time.perf_counter() - started:.1f} s')
        engine = make_engine(f'sqlite:///{Path(server.db.execute("PRAGMA database_list").fetchone()[2])}')
        try:
            started = time.perf_counter()
            marked = log_retention.sweep(engine, days=30)
            took = time.perf_counter() - started
            print(
                f'log retention: {marked:,} runs ({marked * lines:,} lines) removed in {took:.2f} s: '
                f'{took / max(marked, 1) * 1000:.2f} ms a run, {marked * lines / took:,.0f} lines/s'
            )
            started = time.perf_counter()
            again = log_retention.sweep(engine, days=30)
            print(f'log retention, nothing due: {again} runs in {(time.perf_counter() - started) * 1000:.1f} ms')
            reply = server.client.get('/api/runs', params={'limit': 1})
            print(f'the server answered through it: GET /api/runs {reply.status_code}')
        finally:
            dispose(engine)


def cache_check(files: int) -> None:
    with tempfile.TemporaryDirectory(prefix='rb-caches-') as tmp:
        caches = RunCaches(Path(tmp), max_bytes=5 * 1024**3)
        path = caches.acquire('bench', 0, 'base')
        for n in range(files):
            folder = path / 'pip' / f'{n % 256:02x}'
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f'entry-{n}').write_bytes(b'x' * 512)
        started = time.perf_counter()
        caches.release(path)
        release = time.perf_counter() - started
        started = time.perf_counter()
        caches.acquire('bench', 0, 'base')
        acquire = time.perf_counter() - started
        print(
            f'run cache of {files:,} files: release (its size walked) {release * 1000:.0f} ms, '
            f'acquire {acquire * 1000:.2f} ms'
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=20_000)
    parser.add_argument('--lines', type=int, default=50)
    parser.add_argument('--cache-files', type=int, default=50_000)
    args = parser.parse_args()
    cache_check(args.cache_files)
    log_sweep(args.runs, args.lines)


if __name__ == '__main__':
    main()
