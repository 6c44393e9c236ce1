"""A matrix child's retry takes its place in the batch (GitHub's "re-run failed jobs"): a cell holds one first
attempt and at most one active run, and its retries after them; a batch's runs are found by their own index

Revision ID: 0025_batch_cell_retries
Revises: 0024_runboard_annotations
"""

import sqlalchemy as sa
from alembic import op

revision = '0025_batch_cell_retries'
down_revision = '0024_runboard_annotations'
branch_labels = None
depends_on = None

CELL = ['batch_id', 'depth_level', 'target_framework']
# as app/models/tables.py, frozen here
FIRST_ATTEMPT = 'batch_id IS NOT NULL AND retry_of IS NULL'
ACTIVE = "batch_id IS NOT NULL AND status IN ('queued', 'running')"
IN_BATCH = 'batch_id IS NOT NULL'


def _index(name: str, columns: list[str], where: str, *, unique: bool) -> None:
    op.create_index(
        name, 'run', columns, unique=unique, sqlite_where=sa.text(where), postgresql_where=sa.text(where)
    )


def upgrade() -> None:
    op.drop_index('uq_run_batch_cell', table_name='run')
    _index('uq_run_batch_cell', CELL, FIRST_ATTEMPT, unique=True)
    _index('uq_run_batch_cell_active', CELL, ACTIVE, unique=True)
    _index('ix_run_batch', ['batch_id', 'id'], IN_BATCH, unique=False)


def downgrade() -> None:
    op.drop_index('ix_run_batch', table_name='run')
    op.drop_index('uq_run_batch_cell_active', table_name='run')
    op.drop_index('uq_run_batch_cell', table_name='run')
    op.execute('UPDATE run SET batch_id = NULL WHERE batch_id IS NOT NULL AND retry_of IS NOT NULL')
    _index('uq_run_batch_cell', CELL, IN_BATCH, unique=True)
