"""A token remembers when it was last used (to the minute), so an operator sees which ones are idle before revoking

Revision ID: 0023_token_last_used
Revises: 0022_commit_status_commit
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0023_token_last_used'
down_revision = '0022_commit_status_commit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('apitoken', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
