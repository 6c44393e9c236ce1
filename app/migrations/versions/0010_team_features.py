"""Team features: the audit log (who triggered, stopped, retried, reset, toggled auto, changed a project or a
token, when, and from which token) and bulk actions (one Stop or Retry over many runs under one key)

Revision ID: 0010_team_features
Revises: 0009_run_retry_index
"""

import sqlalchemy as sa
from alembic import op

revision = '0010_team_features'
down_revision = '0009_run_retry_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'auditentry',
        sa.Column('id', sa.String(), primary_key=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('team_id', sa.String(), nullable=False),
        sa.Column('actor_id', sa.String(), nullable=True),
        sa.Column('actor_name', sa.String(), nullable=False),
        sa.Column('token_id', sa.String(), nullable=True),
        sa.Column('action', sa.String(), nullable=False),
        sa.Column('project_id', sa.String(), nullable=True),
        sa.Column('target', sa.String(), nullable=True),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('correlation_id', sa.String(), nullable=True),
    )
    op.create_index('ix_auditentry_team_id', 'auditentry', ['team_id', 'id'])
    op.create_table(
        'bulkaction',
        sa.Column('user_id', sa.String(), primary_key=True),
        sa.Column('key', sa.String(), primary_key=True),
        sa.Column('fingerprint', sa.String(), nullable=False),
        sa.Column('action', sa.String(), nullable=False),
        sa.Column('status', sa.String(), nullable=False),
        sa.Column('targets', sa.JSON(), nullable=False),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table('bulkaction')
    op.drop_index('ix_auditentry_team_id', table_name='auditentry')
    op.drop_table('auditentry')
