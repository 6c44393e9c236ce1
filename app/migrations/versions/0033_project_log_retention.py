"""A project's own log retention: its runs' output leaves the database this many days after they end, over the
server's RUNBOARD_LOG_RETENTION_DAYS (null: the server's) (services/runs/log_retention.py)

Revision ID: 0033_project_log_retention
Revises: 0032_project_auto_retry
"""

import sqlalchemy as sa
from alembic import op

revision = '0033_project_log_retention'
down_revision = '0032_project_auto_retry'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('project', sa.Column('log_retention_days', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column('project', 'log_retention_days')
