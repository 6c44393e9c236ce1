"""What AFK agents spend (issue 39): one row per `::usage::` line a run printed (runusage), and a project's daily
AFK cost cap with the day it was reached (so `project.cost_capped` is sent once) and when Reset last restarted it

Revision ID: 0020_afk_usage
Revises: 0019_push_triggers
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0020_afk_usage'
down_revision = '0019_push_triggers'
branch_labels = None
depends_on = None

TIME = sqlmodel.sql.sqltypes.UTCDateTime
TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    # ALTER TABLE ... ADD COLUMN: a batch copy of `project` would trip the foreign keys pointing at it
    op.add_column('project', sa.Column('afk_cost_cap_usd_per_day', sa.Float(), nullable=True))
    op.add_column('project', sa.Column('afk_cost_capped_on', TEXT(length=10), nullable=True))
    op.add_column('project', sa.Column('afk_cost_cap_reset_at', TIME(), nullable=True))
    op.create_table(
        'runusage',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('run_id', TEXT(), sa.ForeignKey('run.id', ondelete='CASCADE'), nullable=False),
        sa.Column('project_id', TEXT(), nullable=False),
        sa.Column('at', TIME(), nullable=False),
        sa.Column('input_tokens', sa.BigInteger(), nullable=False),
        sa.Column('output_tokens', sa.BigInteger(), nullable=False),
        sa.Column('cost_usd', sa.Float(), nullable=False),
        sa.Column('model', TEXT(length=100), nullable=True),
    )
    op.create_index('ix_runusage_run', 'runusage', ['run_id'])
    op.create_index('ix_runusage_project_at', 'runusage', ['project_id', 'at'])


def downgrade() -> None:
    op.drop_index('ix_runusage_project_at', table_name='runusage')
    op.drop_index('ix_runusage_run', table_name='runusage')
    op.drop_table('runusage')
    op.drop_column('project', 'afk_cost_cap_reset_at')
    op.drop_column('project', 'afk_cost_capped_on')
    op.drop_column('project', 'afk_cost_cap_usd_per_day')
