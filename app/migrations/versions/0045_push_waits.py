"""A pushed head that waits for its branch's run (push_wait), so the forge shows it pending at once, and ends in
error if a newer push replaces it before it ran (services/triggers/push.py); a commit status's link when it is not
its run's page (commit_status.target_path: a waiting head's goes to the run it waits for). Before, a waiting commit
had no status on the forge until its run was admitted.

Revision ID: 0045_push_waits
Revises: 0044_run_artifacts_removed
"""

import sqlalchemy as sa
from alembic import op

revision = '0045_push_waits'
down_revision = '0044_run_artifacts_removed'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'push_wait',
        sa.Column('project_id', sa.String(), sa.ForeignKey('project.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('branch', sa.String(length=250), primary_key=True),
        sa.Column('sha', sa.String(length=64), primary_key=True),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('description', sa.String(length=140), nullable=False),
        sa.Column('blocked_by', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
    )
    op.add_column('commit_status', sa.Column('target_path', sa.String(length=300), nullable=True))


def downgrade() -> None:
    op.drop_column('commit_status', 'target_path')
    op.drop_table('push_wait')
