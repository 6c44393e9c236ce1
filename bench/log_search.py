"""The log viewer's search at a long log: GET /api/runs/{id}/search over one run's N output lines.
Prints figures; asserts nothing.

    python bench/log_search.py [--lines 100000] [--samples 20] [--postgres]

Starts `python main.py` (SQLite; with --postgres, a fresh schema in RUNBOARD_TEST_PG's database, dropped
after), runs a command that prints N numbered lines (every tenth one coloured, like a test runner's
output), then times searches from one client (median and p90 of --samples, after one warm-up): a rare
text, a text on every line (the answer is capped at 1,000 seqs, the count is exact), a text across a
colour change, and a text found nowhere.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.helpers.backends import pg_schema  # noqa: E402
from tests.helpers.repos import make_repo  # noqa: E402
from tests.helpers.servers import app_process  # noqa: E402

SCRIPT = (
    '#!/bin/sh\n'
    'seq 1 {lines} | awk \'{{ if ($1 % 10 == 0) printf "step %d \\033[1;32mPASSED\\033[0m\\n", $1; '
    'else printf "line %d of the build log\\n", $1 }}\'\n'
)


def timed(client: httpx.Client, path: str, params: dict, samples: int) -> tuple[float, float, dict]:
    client.get(path, params=params).raise_for_status()
    times, body = [], {}
    for _ in range(samples):
        started = time.perf_counter()
        reply = client.get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        reply.raise_for_status()
        body = reply.json()
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))], body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--lines', type=int, default=100_000)
    parser.add_argument('--samples', type=int, default=20)
    parser.add_argument('--postgres', action='store_true')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='rb-log-search-') as tmp, contextlib.ExitStack() as stack:
        database_url = stack.enter_context(pg_schema()) if args.postgres else None
        base = Path(tmp)
        repo = make_repo(base / 'repo', {'main': {'run.sh': SCRIPT.format(lines=args.lines)}})
        data = base / 'data'
        env = {'RUNBOARD_DEMO': 'false'}
        if database_url:
            env['RUNBOARD_DATABASE_URL'] = database_url
        with app_process(data, env=env) as app:
            token = json.loads((data / 'credentials.json').read_text())['token']
            client = httpx.Client(base_url=app['url'], headers={'Authorization': f'Bearer {token}'}, timeout=60)
            body = {'id': 'bench', 'name': 'Bench', 'repository': str(repo), 'command': ['sh', 'run.sh']}
            client.post('/api/projects', json=body).raise_for_status()
            run = client.post(
                '/api/runs',
                json={'project_id': 'bench', 'branch': 'main', 'depth_level': 'shallow', 'target_framework': 'python'},
            ).json()
            while (state := client.get(f'/api/runs/{run["id"]}', params={'events_limit': 0}).json())['status'] in (
                'queued',
                'running',
            ):
                time.sleep(0.5)
            print(f'{state["output_lines"]} output lines; {"PostgreSQL" if database_url else "SQLite"}')
            path = f'/api/runs/{run["id"]}/search'
            cases = [
                ('one line', f'line {args.lines // 2 + 1} of'),
                ('every line (capped answer)', 'LINE'),
                ('across a colour change', 'step 50 passed'),
                ('nowhere', 'no such text'),
            ]
            for name, q in cases:
                median, p90, found = timed(client, path, {'q': q}, args.samples)
                print(
                    f'{name:<28} q={q!r:<24} median {median:7.1f} ms  p90 {p90:7.1f} ms  '
                    f'total {found["total"]}, listed {len(found["matches"])}'
                )


if __name__ == '__main__':
    main()
