"""Run annotations: a partial index of annotation events

A run's annotations (`::error|warning|notice::` lines, stored as `annotation` events) are read for its page, its
API answer and its webhooks through this index of those events only, not by scanning its whole log.

Revision ID: 0017_run_annotations
Revises: 0016_deployment_admin
"""

import sqlalchemy as sa
from alembic import op

revision = '0017_run_annotations'
down_revision = '0016_deployment_admin'
branch_labels = None
depends_on = None

ANNOTATION_SQL = "type = 'annotation'"  # as app/models/tables.py, frozen here


def upgrade() -> None:
    op.create_index(
        'ix_runevent_annotation',
        'runevent',
        ['run_id', 'seq'],
        sqlite_where=sa.text(ANNOTATION_SQL),
        postgresql_where=sa.text(ANNOTATION_SQL),
    )


def downgrade() -> None:
    op.drop_index('ix_runevent_annotation', table_name='runevent')
