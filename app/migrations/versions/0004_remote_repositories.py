"""Remote repositories: per-project git credentials (the secret encrypted at rest) and the commit a run
was admitted at

Revision ID: 0004_remote
Revises: 0003_tenancy
"""

import sqlalchemy as sa
from alembic import op

revision = '0004_remote'
down_revision = '0003_tenancy'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('project') as batch_op:
        batch_op.add_column(sa.Column('credentials_kind', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('credentials_username', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('credentials_secret', sa.Text(), nullable=True))
    with op.batch_alter_table('run') as batch_op:
        batch_op.add_column(sa.Column('commit_sha', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('run') as batch_op:
        batch_op.drop_column('commit_sha')
    with op.batch_alter_table('project') as batch_op:
        batch_op.drop_column('credentials_secret')
        batch_op.drop_column('credentials_username')
        batch_op.drop_column('credentials_kind')
