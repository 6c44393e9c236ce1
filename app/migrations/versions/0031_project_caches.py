"""Run caches: a project's cache generation (a clear raises it, so every executor starts new, empty caches) and
when they were last cleared (services/execution/caches.py)

Revision ID: 0031_project_caches
Revises: 0030_run_log_retention
"""

import sqlalchemy as sa
from alembic import op

revision = '0031_project_caches'
down_revision = '0030_run_log_retention'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('project', sa.Column('cache_generation', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('project', sa.Column('caches_cleared_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('project', 'caches_cleared_at')
    op.drop_column('project', 'cache_generation')
