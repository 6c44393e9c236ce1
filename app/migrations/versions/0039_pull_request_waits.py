"""A pull request's run refused for now (the branch is busy with its push run, the repository at its limit, the
quota): kept, one row per pull request, and admitted when a run ends (services/triggers/push.py). Before, nothing
tried it again, so a required pull-request check never appeared.

Revision ID: 0039_pull_request_waits
Revises: 0038_run_waits_for
"""

import sqlalchemy as sa
from alembic import op

revision = '0039_pull_request_waits'
down_revision = '0038_run_waits_for'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pull_request_wait',
        sa.Column('project_id', sa.String(), sa.ForeignKey('project.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('number', sa.Integer(), primary_key=True),
        sa.Column('branch', sa.String(length=250), nullable=False),
        sa.Column('sha', sa.String(length=64), nullable=False),
        sa.Column('author', sa.String(length=250), nullable=True),
        sa.Column('title', sa.String(length=500), nullable=False),
        sa.Column('url', sa.String(length=1000), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('pull_request_wait')
