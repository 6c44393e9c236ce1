"""Sweep time of the AFK loop over 1,000 auto-enabled projects (prints figures; asserts nothing).

    python bench/afk.py [--projects 1000] [--database-url postgresql+psycopg://...]

Cases: global cap 0 (the sweep stops at once); no ready issue anywhere (every project considered);
1,000 launches in one sweep (one ready issue each); and the sweep right after, with every project's
auto run in flight. Runs are only created (the engine is not started), so nothing executes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from app.config import Settings  # noqa: E402
from app.container import build_services  # noqa: E402
from app.infra.db import session_scope  # noqa: E402
from app.models import Issue, Project  # noqa: E402
from app.services.identity.accounts import LOCAL_TEAM  # noqa: E402


def seed(engine, count: int, *, issues: bool) -> None:  # noqa: ANN001
    with session_scope(engine) as session:
        conn = session.connection()
        conn.execute(text('DELETE FROM issueclaim'))
        conn.execute(text('DELETE FROM runevent'))
        conn.execute(text('DELETE FROM runstage'))
        conn.execute(text('DELETE FROM run'))
        conn.execute(text('DELETE FROM issue'))
        conn.execute(text('DELETE FROM project'))
    with session_scope(engine) as session:
        for i in range(count):
            session.add(
                Project(
                    id=f'bench-{i:04d}',
                    name=f'Bench {i}',
                    repository=f'/bench/repo{i}',
                    repository_key=f'/bench/repo{i}',
                    command=['true'],
                    team_id=LOCAL_TEAM,
                    auto_enabled=True,
                )
            )
        session.flush()
        if issues:
            for i in range(count):
                session.add(
                    Issue(project_id=f'bench-{i:04d}', number=1, title='bench issue', labels=['ready-for-agent'])
                )


def timed(loop, repeat: int) -> tuple[list[float], object]:  # noqa: ANN001
    times, report = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        report = loop.sweep()
        times.append(time.perf_counter() - start)
    return times, report


def line(name: str, times: list[float], report) -> None:  # noqa: ANN001
    print(
        f'{name:<46} median {statistics.median(times) * 1000:8.1f} ms  (min {min(times) * 1000:.1f}, '
        f'n={len(times)})  launched={len(report.launched)} considered={report.considered} '
        f'stopped_by={report.stopped_by}'
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--projects', type=int, default=1000)
    parser.add_argument('--database-url')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            demo=False,
            database_url=args.database_url,
            global_run_cap=0,
            allow_local_repositories=True,  # the bench's repositories are local paths, also in team mode
        )
        services = build_services(settings)
        loop = services.afk
        backend = 'PostgreSQL' if args.database_url else 'SQLite'
        print(f'AFK sweep, {args.projects} auto-enabled projects, {backend}')

        seed(services.engine, args.projects, issues=True)
        line('global cap 0 (stops at once)', *timed(loop, 20))

        loop.settings = settings.model_copy(update={'global_run_cap': 1_000_000})
        seed(services.engine, args.projects, issues=False)
        line('no ready issue anywhere', *timed(loop, 10))

        seed(services.engine, args.projects, issues=True)
        times, report = timed(loop, 1)
        line(f'launching ({args.projects} runs + claims in one sweep)', times, report)
        print(f'{"":<46} = {times[0] / max(1, len(report.launched)) * 1000:.2f} ms per launch')
        line('next sweep: every auto run in flight', *timed(loop, 10))

        with session_scope(services.engine) as session:
            session.connection().execute(text("UPDATE run SET status = 'failed'"))
            session.connection().execute(text('UPDATE project SET consecutive_failures = 3'))
        line('every project paused', *timed(loop, 10))
        loop.close()
        services.limiter.close()
        services.engine.dispose()


if __name__ == '__main__':
    main()
