"""Commit statuses are posted one at a time per commit and context, the latest one only: an index to find them

Revision ID: 0022_commit_status_commit
Revises: 0021_afk_cost_cap_stops
"""

from alembic import op

revision = '0022_commit_status_commit'
down_revision = '0021_afk_cost_cap_stops'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_commit_status_commit', 'commit_status', ['sha', 'context', 'id'])


def downgrade() -> None:
    op.drop_index('ix_commit_status_commit', table_name='commit_status')
