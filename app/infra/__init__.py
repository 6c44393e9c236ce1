"""The one way to each backing service: the database (SQLAlchemy engine, sessions, Alembic), Redis, the change-event
bus, the secret box."""
