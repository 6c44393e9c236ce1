"""Deployment administrators: a person who may change what every team shares (draining workers); the first
local operator (the account the server made on its first start) is one

Revision ID: 0016_deployment_admin
Revises: 0015_project_environment
"""

import sqlalchemy as sa
from alembic import op

revision = '0016_deployment_admin'
down_revision = '0015_project_environment'
branch_labels = None
depends_on = None

# the operator `ensure_local_account` made in the 'local' team on the server's first start (frozen here)
FIRST_LOCAL_OPERATOR = (
    'UPDATE "user" SET is_admin = :yes WHERE id = ('
    ' SELECT u.id FROM "user" u JOIN teammember m ON m.user_id = u.id'
    " WHERE m.team_id = 'local' AND u.role = 'operator' ORDER BY u.created_at LIMIT 1)"
)


def upgrade() -> None:
    # ALTER TABLE ... ADD COLUMN: a batch copy of `user` would trip the foreign keys pointing at it
    op.add_column('user', sa.Column('is_admin', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(sa.text(FIRST_LOCAL_OPERATOR).bindparams(yes=True))


def downgrade() -> None:
    op.drop_column('user', 'is_admin')
