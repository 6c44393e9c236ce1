"""The summary a run wrote ($RUNBOARD_SUMMARY) as its page shows it, masked with the run's secrets and ::add-mask::
values when it was kept (services/artifacts/collect.py); before, the page showed the artifact summary.md as the run
wrote it. Runs kept before this have no row: their summary stays in their artifacts.

Revision ID: 0051_run_summary
Revises: 0050_delivery_gave_up_at
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0051_run_summary'
down_revision = '0050_delivery_gave_up_at'
branch_labels = None
depends_on = None

TIME = sqlmodel.sql.sqltypes.UTCDateTime
TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        'runsummary',
        sa.Column('run_id', TEXT(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('cut', sa.Boolean(), nullable=False),
        sa.Column('created_at', TIME(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['run.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id'),
    )


def downgrade() -> None:
    op.drop_table('runsummary')
