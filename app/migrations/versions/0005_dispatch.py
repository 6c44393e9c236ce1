"""Runs handed to a Celery worker: when the run was last published to the queue

Revision ID: 0005_dispatch
Revises: 0004_remote
"""

import sqlalchemy as sa
from alembic import op

revision = '0005_dispatch'
down_revision = '0004_remote'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('run') as batch_op:
        batch_op.add_column(sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('run') as batch_op:
        batch_op.drop_column('dispatched_at')
