"""Automatic retries: how many times a project's runs that end crashed or timed out (or failed, as chosen) are
retried by Runboard itself, and since when the rule holds (runs made before it are not retried by it)
(services/runs/auto_retry.py; GitLab's `retry:`)

Revision ID: 0032_project_auto_retry
Revises: 0031_project_caches
"""

import sqlalchemy as sa
from alembic import op

revision = '0032_project_auto_retry'
down_revision = '0031_project_caches'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('project', sa.Column('auto_retry', sa.Integer(), nullable=False, server_default='0'))
    op.add_column(
        'project', sa.Column('auto_retry_on', sa.JSON(), nullable=False, server_default='["crashed", "timed_out"]')
    )
    op.add_column('project', sa.Column('auto_retry_since', sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('project', 'auto_retry_since')
    op.drop_column('project', 'auto_retry_on')
    op.drop_column('project', 'auto_retry')
