"""The queued-TTL sweep reads an index of the runs that have a TTL, by status then expiry, instead of every
queued run twice a second (with 50,000 queued runs, a scan of them all each time)

Revision ID: 0014_run_status_expiry_index
Revises: 0013_schedules_and_delays
"""

import sqlalchemy as sa
from alembic import op

revision = '0014_run_status_expiry_index'
down_revision = '0013_schedules_and_delays'
branch_labels = None
depends_on = None

HAS_EXPIRY_SQL = 'expires_at IS NOT NULL'  # as app/models/tables.py, frozen here


def upgrade() -> None:
    op.create_index(
        'ix_run_status_expiry',
        'run',
        ['status', 'expires_at'],
        sqlite_where=sa.text(HAS_EXPIRY_SQL),
        postgresql_where=sa.text(HAS_EXPIRY_SQL),
    )


def downgrade() -> None:
    op.drop_index('ix_run_status_expiry', table_name='run')
