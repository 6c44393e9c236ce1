"""Variables given to one run when it was triggered (GitLab's "Run pipeline" variables), kept for its retries

Revision ID: 0028_run_variables
Revises: 0027_project_badges
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0028_run_variables'
down_revision = '0027_project_badges'
branch_labels = None
depends_on = None

TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        'runvariable',
        sa.Column('run_id', TEXT(), nullable=False),
        sa.Column('name', TEXT(length=100), nullable=False),
        sa.Column('value', TEXT(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['run.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', 'name'),
    )


def downgrade() -> None:
    op.drop_table('runvariable')
