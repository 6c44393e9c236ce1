"""A run's line coverage, read from the Cobertura XML among its artifacts (GitLab's coverage figure)

Revision ID: 0026_run_coverage
Revises: 0025_batch_cell_retries
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0026_run_coverage'
down_revision = '0025_batch_cell_retries'
branch_labels = None
depends_on = None

TIME = sqlmodel.sql.sqltypes.UTCDateTime
TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        'runcoverage',
        sa.Column('run_id', TEXT(), nullable=False),
        sa.Column('project_id', TEXT(length=64), nullable=False),
        sa.Column('branch_name', TEXT(), nullable=False),
        sa.Column('percent', sa.Float(), nullable=False),
        sa.Column('lines_covered', sa.Integer(), nullable=True),
        sa.Column('lines_valid', sa.Integer(), nullable=True),
        sa.Column('reports', sa.Text(), nullable=True),
        sa.Column('created_at', TIME(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['run.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id'),
    )
    op.create_index('ix_runcoverage_branch_run', 'runcoverage', ['project_id', 'branch_name', 'run_id'])


def downgrade() -> None:
    op.drop_index('ix_runcoverage_branch_run', table_name='runcoverage')
    op.drop_table('runcoverage')
