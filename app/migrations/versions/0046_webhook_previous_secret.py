"""A webhook rule's previous signing secret, kept (encrypted like the current one) for a day after a rotation:
deliveries are signed with both meanwhile (services/notifications/signature.py), so a receiver that still has the
old secret goes on verifying until it is given the new one. Before, a rotation failed every delivery to a receiver
until it had the new secret.

Revision ID: 0046_webhook_previous_secret
Revises: 0045_push_waits
"""

import sqlalchemy as sa
from alembic import op

revision = '0046_webhook_previous_secret'
down_revision = '0045_push_waits'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('notificationrule', sa.Column('previous_secret_encrypted', sa.Text(), nullable=True))
    op.add_column('notificationrule', sa.Column('previous_secret_until', sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('notificationrule', 'previous_secret_until')
    op.drop_column('notificationrule', 'previous_secret_encrypted')
