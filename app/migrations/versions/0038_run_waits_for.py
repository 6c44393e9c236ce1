"""An approved run a lock or a limit holds back says why in a column of its own (services/scheduling/delayed_runs.py):
its row shows it, and every server's sweep writes the reason to its log once, not once per server

Revision ID: 0038_run_waits_for
Revises: 0037_run_auto_retry_refused
"""

import sqlalchemy as sa
from alembic import op

revision = '0038_run_waits_for'
down_revision = '0037_run_auto_retry_refused'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('run', sa.Column('waits_for', sa.String(length=500), nullable=True))


def downgrade() -> None:
    op.drop_column('run', 'waits_for')
