"""A project may have the daily AFK cost cap stop an AFK run that passes it while it runs (issue 39; off by default)

Revision ID: 0021_afk_cost_cap_stops
Revises: 0020_afk_usage
"""

import sqlalchemy as sa
from alembic import op

revision = '0021_afk_cost_cap_stops'
down_revision = '0020_afk_usage'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        'project', sa.Column('afk_cost_cap_stops_runs', sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column('project', 'afk_cost_cap_stops_runs')
