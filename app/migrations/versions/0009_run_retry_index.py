"""Retry links both ways: an index on run.retry_of, so a run's page and each list page find the runs that
retry it without a scan of every run

Revision ID: 0009_run_retry_index
Revises: 0008_run_stages
"""

from alembic import op

revision = '0009_run_retry_index'
down_revision = '0008_run_stages'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_run_retry_of', 'run', ['retry_of'])


def downgrade() -> None:
    op.drop_index('ix_run_retry_of', table_name='run')
