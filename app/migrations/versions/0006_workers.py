"""Workers (executor=celery): the registry of `runboard worker`s, and runner labels on projects

Revision ID: 0006_workers
Revises: 0005_dispatch
"""

import sqlalchemy as sa
from alembic import op

revision = '0006_workers'
down_revision = '0005_dispatch'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('project') as batch_op:
        batch_op.add_column(sa.Column('runs_on', sa.JSON(), nullable=False, server_default='[]'))
    op.create_table(
        'worker',
        sa.Column('name', sa.String(length=200), primary_key=True),
        sa.Column('instance_id', sa.String(length=200), nullable=False, index=True),
        sa.Column('host', sa.String(length=200), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('labels', sa.JSON(), nullable=False),
        sa.Column('slots', sa.Integer(), nullable=False),
        sa.Column('version', sa.String(length=50), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('draining', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('drain_requested_at', sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table('worker')
    with op.batch_alter_table('project') as batch_op:
        batch_op.drop_column('runs_on')
