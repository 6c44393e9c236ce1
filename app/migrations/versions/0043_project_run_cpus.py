"""A project's own CPU limit for its runs (GitLab's CPU limit overwrite), over RUNBOARD_RUN_CPUS and up to
RUNBOARD_RUN_CPUS_ALLOWED: a project whose builds need more cores (or should take fewer) than the deployment's default.

Revision ID: 0043_project_run_cpus
Revises: 0042_project_run_memory_max
"""

import sqlalchemy as sa
from alembic import op

revision = '0043_project_run_cpus'
down_revision = '0042_project_run_memory_max'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('project', sa.Column('run_cpus', sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column('project', 'run_cpus')
