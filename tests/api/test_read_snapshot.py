"""A run's page, `runs show` and GET /runs/{id} read the run, its usage, stages and log in several statements: they
read one moment, so a run that ends between two of them never shows `running` beside its final line."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from app.infra.db import make_engine, snapshot


def test_the_statements_of_a_snapshot_read_all_see_one_moment(settings_factory) -> None:  # noqa: ANN001
    engine = make_engine(settings_factory().effective_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO team (id, name) VALUES ('snap', 'running')"))
        with Session(snapshot(engine)) as session:
            first = session.connection().execute(text("SELECT name FROM team WHERE id = 'snap'")).scalar()
            with engine.begin() as other:  # the run ends meanwhile, on another connection
                other.execute(text("UPDATE team SET name = 'succeeded' WHERE id = 'snap'"))
            second = session.connection().execute(text("SELECT name FROM team WHERE id = 'snap'")).scalar()
        assert (first, second) == ('running', 'running')
        with Session(snapshot(engine)) as session:  # a later read sees the end
            assert session.connection().execute(text("SELECT name FROM team WHERE id = 'snap'")).scalar() == (
                'succeeded'
            )
    finally:
        engine.dispose()
