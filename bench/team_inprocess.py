"""Team mode's admission without HTTP, in this process against PostgreSQL and Redis, creates and then replays:
RunAdmitter.trigger (the one admission path) in one thread and in 16. What an admission costs beyond HTTP
(bench/team.py measures the whole server). Prints figures, user and system CPU apart; asserts nothing.

    python bench/team_inprocess.py [--requests 2000] [--sqlite]

Needs PostgreSQL (127.0.0.1:5432, trust, database `test`; a fresh schema) and Redis (127.0.0.1:6379); with
--sqlite, local mode's SQLite file and in-process quota instead (what a local admission costs without HTTP).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from trigger_api import make_repo  # noqa: E402

PG = 'postgresql+psycopg://postgres@127.0.0.1:5432/test'


def timed(label: str, calls: list[Callable[[], object]], threads: int) -> None:
    chunks = [calls[n::threads] for n in range(threads)]
    workers = [threading.Thread(target=lambda chunk=chunk: [call() for call in chunk]) for chunk in chunks]
    before, wall = os.times(), time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    report(f'{label:8} {threads:2} thread(s)', before, wall, len(calls))


def report(label: str, before: os.times_result, wall: float, count: int) -> None:
    after, wall = os.times(), time.perf_counter() - wall
    user, system = (after.user - before.user) * 1000 / count, (after.system - before.system) * 1000 / count
    print(f'  {label}: {user + system:.3f} ms CPU ({user:.3f} user, {system:.3f} system), {count / wall:6.0f}/s')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=2000)
    parser.add_argument('--sqlite', action='store_true', help="local mode's database and quota instead")
    args = parser.parse_args()
    schema = f'bench_{uuid.uuid4().hex[:8]}'
    admin = sa.create_engine(PG, isolation_level='AUTOCOMMIT')
    if not args.sqlite:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA {schema}'))
        os.environ.update(
            RUNBOARD_DATABASE_URL=f'{PG}?options=-csearch_path%3D{schema}',
            RUNBOARD_REDIS_URL='redis://127.0.0.1:6379/0',
            RUNBOARD_REDIS_PREFIX=schema,
        )
    work = Path(tempfile.mkdtemp(prefix='rb-inproc-'))
    repo = make_repo(work / 'repo', 4 * args.requests + 100)
    os.environ.update(
        RUNBOARD_GLOBAL_RUN_CAP='0',  # nothing executes: the admissions alone
        RUNBOARD_DATA_DIR=str(work / 'data'),
        RUNBOARD_DEMO='false',
        RUNBOARD_RATE_LIMIT_RUNS='10000000',
        RUNBOARD_ALLOW_LOCAL_REPOSITORIES='true',
    )
    from app.config import Settings
    from app.container import build_services
    from app.models import ProjectCreate
    from app.services.projects import manage as projects

    services = build_services(Settings())
    try:
        token = json.loads((work / 'data' / 'credentials.json').read_text())['token']
        principal = services.auth.authenticate(token)
        project = ProjectCreate(
            id='bench', name='Bench', repository=str(repo), command=['true'], max_concurrent_runs=100_000
        )
        projects.create_project(services.engine, principal, project, services.repositories)
        branches = iter(range(4 * args.requests + 100))

        def choices(key: str, branch: int) -> dict[str, str]:
            """One admission's keyword arguments (RunAdmitter.trigger's)."""
            return dict(
                project_id='bench',
                depth_level='shallow',
                target_framework='python',
                branch=f'b/{branch:05d}',
                key=key,
                correlation_id='bench',
            )

        def trigger(key: str, branch: int) -> Callable[[], object]:
            return lambda: services.admitter.trigger(principal, **choices(key, branch))

        for _ in range(50):  # warm-up: connections, prepared statements, caches
            trigger(uuid.uuid4().hex, next(branches))()
        print(f'{"local" if args.sqlite else "team"} mode in-process, {args.requests} requests per line')
        for threads in (1, 16):
            creates = [trigger(uuid.uuid4().hex, next(branches)) for _ in range(args.requests)]
            timed('create', creates, threads)
            timed('replay', creates, threads)
    except BaseException:
        traceback.print_exc()
        raise
    finally:
        services.engine.dispose()
        if not args.sqlite:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA {schema} CASCADE'))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # the bus's and the limiter's connections need no goodbye


if __name__ == '__main__':
    main()
