"""What a run's processes used, read from its cgroup at its end (services/execution/limits.py): its peak memory and
its CPU time, and the memory limit it ran under, shown on its page and in `runboard runs show`, so an operator sees
what a memory limit must allow.

Revision ID: 0040_run_resource_usage
Revises: 0039_pull_request_waits
"""

import sqlalchemy as sa
from alembic import op

revision = '0040_run_resource_usage'
down_revision = '0039_pull_request_waits'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('run', sa.Column('peak_memory_bytes', sa.BigInteger(), nullable=True))
    op.add_column('run', sa.Column('cpu_seconds', sa.Float(), nullable=True))
    op.add_column('run', sa.Column('memory_max_bytes', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column('run', 'memory_max_bytes')
    op.drop_column('run', 'cpu_seconds')
    op.drop_column('run', 'peak_memory_bytes')
