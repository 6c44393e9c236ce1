from alembic import context
from sqlmodel import SQLModel

from app.models import load_all

load_all()  # every table on SQLModel.metadata

engine = context.config.attributes['engine']
with engine.connect() as connection:
    context.configure(
        connection=connection, target_metadata=SQLModel.metadata, render_as_batch=connection.dialect.name == 'sqlite'
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
