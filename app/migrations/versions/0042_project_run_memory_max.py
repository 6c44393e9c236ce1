"""A project's own memory limit for its runs (GitLab's memory limit overwrite), over RUNBOARD_RUN_MEMORY_MAX and up to
RUNBOARD_RUN_MEMORY_MAX_ALLOWED: a project whose tests need more (or should get less) than the deployment's default.

Revision ID: 0042_project_run_memory_max
Revises: 0041_worker_confinement
"""

import sqlalchemy as sa
from alembic import op

revision = '0042_project_run_memory_max'
down_revision = '0041_worker_confinement'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('project', sa.Column('run_memory_max', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column('project', 'run_memory_max')
