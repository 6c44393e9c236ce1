"""Why what comes next for a run waits, in a column of its own: an approved run a lock or a limit holds back
(services/scheduling/delayed_runs.py), an ended run whose automatic retry is refused for now (services/runs/auto_retry.py).
Its row and page show it, and of every server's sweeps the first writes the reason to its log, once

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
