"""When artifact retention removed a run's artifacts (services/artifacts/retention.py): its page, its downloads and
`runboard runs artifacts` then say they expired, instead of that the run kept none.

Revision ID: 0044_run_artifacts_removed
Revises: 0043_project_run_cpus
"""

import sqlalchemy as sa
from alembic import op

revision = '0044_run_artifacts_removed'
down_revision = '0043_project_run_cpus'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('run', sa.Column('artifacts_removed_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('run', 'artifacts_removed_at')
