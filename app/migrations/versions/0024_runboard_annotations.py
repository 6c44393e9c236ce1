"""Runboard's own annotations (an artifact refused, a test report unreadable) are `runboard_annotation` events:
listed with the run's annotations, but not counted, downloaded or sent as lines the run printed; the partial index
of annotation events covers both types

Revision ID: 0024_runboard_annotations
Revises: 0023_token_last_used
"""

import sqlalchemy as sa
from alembic import op

revision = '0024_runboard_annotations'
down_revision = '0023_token_last_used'
branch_labels = None
depends_on = None

BEFORE = "type = 'annotation'"  # as 0017 made it
AFTER = "type IN ('annotation', 'runboard_annotation')"  # as app/models/tables.py, frozen here


def _index(where: str) -> None:
    op.drop_index('ix_runevent_annotation', table_name='runevent')
    op.create_index(
        'ix_runevent_annotation', 'runevent', ['run_id', 'seq'], sqlite_where=sa.text(where), postgresql_where=sa.text(where)
    )


def upgrade() -> None:
    _index(AFTER)


def downgrade() -> None:
    op.execute("UPDATE runevent SET type = 'annotation' WHERE type = 'runboard_annotation'")
    _index(BEFORE)
