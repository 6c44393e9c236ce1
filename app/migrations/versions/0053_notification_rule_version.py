"""A notification rule's version: 1 when made, one more at each change of its fields, so an edit made on the rule as
it was read is refused (409 edit_conflict) when another operator changed it meanwhile, instead of the last save
winning silently. Rules made before this start at 1.

Revision ID: 0053_notification_rule_version
Revises: 0052_artifact_preview
"""

import sqlalchemy as sa
from alembic import op

revision = '0053_notification_rule_version'
down_revision = '0052_artifact_preview'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('notificationrule', sa.Column('version', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    op.drop_column('notificationrule', 'version')
