"""Runs on push and on pull requests: a project's push rules and hook secret, who pushed and which pull request on
a run, the last head acted on per branch (push_head), and the commit statuses posted back (commit_status)

Revision ID: 0019_push_triggers
Revises: 0018_artifacts
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0019_push_triggers'
down_revision = '0018_artifacts'
branch_labels = None
depends_on = None

TIME = sqlmodel.sql.sqltypes.UTCDateTime
TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    # ALTER TABLE ... ADD COLUMN: a batch copy of `project` or `run` would trip the foreign keys pointing at them
    op.add_column('project', sa.Column('on_push', sa.JSON(), nullable=True))
    op.add_column('project', sa.Column('on_push_by', TEXT(), nullable=True))
    op.add_column('project', sa.Column('hook_secret', TEXT(), nullable=True))  # a Fernet token
    op.add_column('run', sa.Column('pusher', TEXT(length=200), nullable=True))
    op.add_column('run', sa.Column('pr_number', sa.Integer(), nullable=True))
    op.add_column('run', sa.Column('pr_title', TEXT(length=500), nullable=True))
    op.add_column('run', sa.Column('pr_url', TEXT(length=1000), nullable=True))
    op.create_table(
        'push_head',
        sa.Column('project_id', TEXT(), sa.ForeignKey('project.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('branch', TEXT(length=250), primary_key=True),
        sa.Column('sha', TEXT(length=64), nullable=False),
        sa.Column('updated_at', TIME(), nullable=False),
    )
    op.create_table(
        'commit_status',
        sa.Column('id', TEXT(), primary_key=True),
        sa.Column('project_id', TEXT(), sa.ForeignKey('project.id', ondelete='CASCADE'), nullable=False),
        sa.Column('run_id', TEXT(length=64), nullable=False),
        sa.Column('sha', TEXT(length=64), nullable=False),
        sa.Column('state', TEXT(length=10), nullable=False),
        sa.Column('context', TEXT(length=250), nullable=False),
        sa.Column('description', TEXT(length=140), nullable=False),
        sa.Column('status', TEXT(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', TIME(), nullable=True),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', TEXT(length=500), nullable=True),
        sa.Column('claimed_until', TIME(), nullable=True),
        sa.Column('created_at', TIME(), nullable=False),
        sa.Column('updated_at', TIME(), nullable=False),
        sa.Column('delivered_at', TIME(), nullable=True),
        sa.UniqueConstraint('run_id', 'state', name='uq_commit_status_run_state'),
    )
    op.create_index('ix_commit_status_due', 'commit_status', ['status', 'next_attempt_at'])
    op.create_index('ix_commit_status_project', 'commit_status', ['project_id', 'id'])


def downgrade() -> None:
    op.drop_index('ix_commit_status_project', table_name='commit_status')
    op.drop_index('ix_commit_status_due', table_name='commit_status')
    op.drop_table('commit_status')
    op.drop_table('push_head')
    for column in ('pr_url', 'pr_title', 'pr_number', 'pusher'):
        op.drop_column('run', column)
    for column in ('hook_secret', 'on_push_by', 'on_push'):
        op.drop_column('project', column)
