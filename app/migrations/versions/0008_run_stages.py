"""Run stages: a runstage row per stage marker among a run's first ones, and the run's count of markers,
so the runs list shows each row's stages without reading its events. Existing runs are backfilled from
their stage events (one pass over the timeline, here, instead of one per list page for ever after).

Revision ID: 0008_run_stages
Revises: 0007_run_list_indexes
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008_run_stages'
down_revision = '0007_run_list_indexes'
branch_labels = None
depends_on = None

KEPT = 51  # services/runs/stage_results.py: STORED_STAGES shown, plus the next marker that ends the last of them
NAME_CHARS = 200  # services/runs/stage_results.py: STAGE_NAME_CHARS


def upgrade() -> None:
    op.add_column('run', sa.Column('stage_count', sa.Integer(), nullable=False, server_default='0'))
    op.create_table(
        'runstage',
        sa.Column('run_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('idx', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=NAME_CHARS), nullable=False),
        sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['run.id']),
        sa.PrimaryKeyConstraint('run_id', 'idx'),
    )
    # window functions: SQLite >= 3.25 and PostgreSQL alike
    op.execute(
        'INSERT INTO runstage (run_id, idx, seq, name, started_at) '
        f'SELECT run_id, idx, seq, substr(text, 1, {NAME_CHARS}), at FROM ('
        '  SELECT run_id, seq, text, at, row_number() OVER (PARTITION BY run_id ORDER BY seq) - 1 AS idx'
        "  FROM runevent WHERE type = 'stage'"
        f') AS marker WHERE idx < {KEPT}'
    )
    op.execute(
        'UPDATE run SET stage_count = ('
        "  SELECT count(*) FROM runevent e WHERE e.run_id = run.id AND e.type = 'stage'"
        ') WHERE id IN (SELECT DISTINCT run_id FROM runstage)'
    )


def downgrade() -> None:
    op.drop_table('runstage')
    # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of `run` would trip its foreign keys
    op.drop_column('run', 'stage_count')
