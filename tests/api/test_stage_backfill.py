"""Migration 0008 on every backend: runs stored before stages had rows get them from their stage events
(the first ones kept, all counted), so the runs list shows old runs' stages too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import text
from sqlmodel import Session

from app.infra.db import alembic_config, make_engine
from app.models import RunPublic
from app.services.runs.stage_results import STORED_STAGES
from app.services.runs.stage_store import annotate
from app.services.runs.timeline import timed_sql

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
RUN_SQL = (
    'INSERT INTO run (id, project_id, repository_key, kind, status, depth_level, target_framework, branch_name, '
    "checkout_ref, created_at, started_at, finished_at, budget_seconds, last_seq, output_lines) VALUES (:id, 'p', "
    "'k', 'manual', :status, 'd', 'f', 'main', 'main', :t0, :t0, :end, 60, :last, 0)"
)


def old_run(conn, run_id: str, status: str, events: list[tuple[str, str]], end: datetime | None) -> None:  # noqa: ANN001
    conn.execute(
        timed_sql(RUN_SQL, binds=('t0', 'end')),
        {'id': run_id, 'status': status, 't0': T0, 'end': end, 'last': len(events)},
    )
    conn.execute(
        timed_sql('INSERT INTO runevent (run_id, seq, at, type, text) VALUES (:r, :s, :at, :k, :t)', binds=('at',)),
        [
            {'r': run_id, 's': seq, 'at': T0 + timedelta(seconds=seq), 'k': kind, 't': body}
            for seq, (kind, body) in enumerate(events, start=1)
        ],
    )


@pytest.mark.fresh_database  # it migrates step by step itself
def test_upgrade_backfills_stages_from_stage_events(settings_factory) -> None:
    engine = make_engine(settings_factory().effective_database_url)
    try:
        command.upgrade(alembic_config(engine), '0007_run_list_indexes')
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO team (id, name) VALUES ('t', 'T')"))
            conn.execute(
                timed_sql(
                    'INSERT INTO project (id, name, repository, base_branch, command, depth_levels, '
                    'target_frameworks, max_concurrent_runs, issue_source, team_id, repository_key, auto_enabled, '
                    "consecutive_failures, created_at, updated_at) VALUES ('p', 'P', '/r', 'main', '[]', '[]', "
                    "'[]', 1, '{}', 't', 'k', false, 0, :t0, :t0)",
                    binds=('t0',),
                ),
                {'t0': T0},
            )
            piped = [('status', 'running'), ('stage', 'install'), ('output', 'ok'), ('stage', 'x' * 300)]
            old_run(conn, 'r1', 'failed', [*piped, ('status', 'failed')], T0 + timedelta(seconds=9))
            old_run(conn, 'r2', 'succeeded', [('output', 'no stages')], T0 + timedelta(seconds=2))
            flood = [('stage', f's{i}') for i in range(STORED_STAGES + 30)]
            old_run(conn, 'r3', 'running', flood, None)
        command.upgrade(alembic_config(engine), 'head')
        with Session(engine) as session:
            rows = {
                run_id: session.connection().execute(text(f"SELECT * FROM run WHERE id = '{run_id}'")).mappings().one()
                for run_id in ('r1', 'r2', 'r3')
            }
            runs = [RunPublic.model_validate({**row, 'user_id': None}) for row in rows.values()]
            annotate(session, runs, now=T0 + timedelta(seconds=500))
        r1, r2, r3 = runs
        assert [(s.name, s.result, s.seq, s.seconds) for s in r1.stages] == [
            ('install', 'succeeded', 2, 2.0),
            ('x' * 200, 'failed', 4, 5.0),  # the name cut as new rows are; ended when the run did (second 9)
        ]
        assert (r1.stage_count, r2.stage_count, r2.stages) == (2, 0, [])
        assert r3.stage_count == STORED_STAGES + 30 and len(r3.stages) == STORED_STAGES
        assert r3.stages[-1].result == 'succeeded'  # the next marker, kept but not shown, ended it
        with engine.connect() as conn:
            kept = conn.execute(text("SELECT count(*) FROM runstage WHERE run_id = 'r3'")).scalar_one()
        assert kept == STORED_STAGES + 1
        command.downgrade(alembic_config(engine), '0007_run_list_indexes')  # and back, leaving the runs alone
        with engine.connect() as conn:
            assert conn.execute(text('SELECT count(*) FROM run')).scalar_one() == 3
    finally:
        engine.dispose()
