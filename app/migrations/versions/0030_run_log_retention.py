"""Log retention: when a run's output left the database (services/runs/log_retention.py), and an index of the ended
runs whose output is still kept, for the sweep

Revision ID: 0030_run_log_retention
Revises: 0029_schedule_variables
"""

import sqlalchemy as sa
from alembic import op

revision = '0030_run_log_retention'
down_revision = '0029_schedule_variables'
branch_labels = None
depends_on = None

LOG_KEPT_SQL = 'log_removed_at IS NULL AND finished_at IS NOT NULL'


def upgrade() -> None:
    op.add_column('run', sa.Column('log_removed_at', sa.DateTime(), nullable=True))
    op.create_index(
        'ix_run_log_kept',
        'run',
        ['finished_at'],
        sqlite_where=sa.text(LOG_KEPT_SQL),
        postgresql_where=sa.text(LOG_KEPT_SQL),
    )


def downgrade() -> None:
    op.drop_index('ix_run_log_kept', table_name='run')
    op.drop_column('run', 'log_removed_at')
