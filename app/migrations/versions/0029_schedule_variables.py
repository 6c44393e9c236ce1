"""A schedule's variables: its runs' own, over the project's (GitLab's schedule variables)

Revision ID: 0029_schedule_variables
Revises: 0028_run_variables
"""

import sqlalchemy as sa
from alembic import op

revision = '0029_schedule_variables'
down_revision = '0028_run_variables'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('schedule', sa.Column('variables', sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column('schedule', 'variables')
