"""Protected variables and secrets (GitLab's): given only to runs of the project's protected branches, which are
its base branch unless `protected_branches` (globs) says otherwise (services/projects/variables.py)

Revision ID: 0035_protected_variables
Revises: 0034_worker_caches
"""

import sqlalchemy as sa
from alembic import op

revision = '0035_protected_variables'
down_revision = '0034_worker_caches'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('project_variable', sa.Column('protected', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('project', sa.Column('protected_branches', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column('project', 'protected_branches')
    op.drop_column('project_variable', 'protected')
