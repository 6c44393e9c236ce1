"""When the forge's webhook last said one of a project's issues changed (opened, labelled, closed...): every server's
cached read of the ready issues from before then is stale, so a card and the AFK loop see a new ready issue at once
instead of after the cache's 15 s.

Revision ID: 0056_issues_changed_at
Revises: 0055_commit_info
"""

import sqlalchemy as sa
from alembic import op

revision = '0056_issues_changed_at'
down_revision = '0055_commit_info'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('project', sa.Column('issues_changed_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('project', 'issues_changed_at')
