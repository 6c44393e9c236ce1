"""A run whose automatic retry was refused for good says so in a column of its own (services/runs/auto_retry.py), which
every server's sweep and the run's end read, instead of in a line of its log read back

Revision ID: 0037_run_auto_retry_refused
Revises: 0036_run_approvals
"""

import sqlalchemy as sa
from alembic import op

revision = '0037_run_auto_retry_refused'
down_revision = '0036_run_approvals'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('run', sa.Column('auto_retry_refused_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('run', 'auto_retry_refused_at')
