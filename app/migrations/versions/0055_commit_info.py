"""The commits runs ran, named as a person picks runs by them: title, author and commit time, read from the repository
the first time a run of the commit is read (services/repositories/commits.py). Rows are never changed.

Revision ID: 0055_commit_info
Revises: 0054_edit_versions
"""

import sqlalchemy as sa
from alembic import op

revision = '0055_commit_info'
down_revision = '0054_edit_versions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'commit_info',
        sa.Column('sha', sa.String(length=64), primary_key=True),
        sa.Column('title', sa.String(length=500), nullable=False),
        sa.Column('author_name', sa.String(length=200), nullable=False),
        sa.Column('committed_at', sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('commit_info')
