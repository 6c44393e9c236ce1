"""The queued-TTL sweep runs twice a second on every server: it must read the queued runs that can expire, not
every queued run. Its statement is planned on each backend's migrated schema and must use the partial index
ix_run_status_expiry (a plan, not a time: with 50,000 queued runs a scan of them all is what it replaced)."""

from __future__ import annotations

from sqlalchemy import text

from app.infra import db
from app.models import utcnow
from app.services.scheduling.queue_ttl import due_statement


def plan(engine, statement) -> str:  # noqa: ANN001
    """The plan of `statement` as the application sends it: bound parameters, not literals."""
    compiled = statement.compile(engine)
    with engine.connect() as conn:
        if engine.dialect.name == 'sqlite':
            params = tuple(compiled.params[name] for name in compiled.positiontup or ())
            return '\n'.join(str(row[-1]) for row in conn.exec_driver_sql(f'EXPLAIN QUERY PLAN {compiled}', params))
        conn.execute(text('SET enable_seqscan = off'))  # an empty table is read whole otherwise, whatever indexes
        return '\n'.join(row[0] for row in conn.exec_driver_sql(f'EXPLAIN {compiled}', compiled.params))


def test_the_ttl_sweep_reads_the_queued_expiry_index(settings_factory) -> None:  # noqa: ANN001
    settings = settings_factory()
    engine = db.make_engine(settings.effective_database_url)
    db.upgrade(engine)
    try:
        shown = plan(engine, due_statement(utcnow()))
    finally:
        engine.dispose()
    assert 'ix_run_status_expiry' in shown, shown
