"""When a webhook delivery last gave up (kept through a redelivery), indexed per rule: the window of "redeliver all
that gave up" (services/notifications/deliveries.py, docs/notifications.md). The deliveries that have given up
already take the time of their last change, which was their giving up.

Revision ID: 0050_delivery_gave_up_at
Revises: 0049_delivery_answers
"""

import sqlalchemy as sa
from alembic import op

revision = '0050_delivery_gave_up_at'
down_revision = '0049_delivery_answers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('delivery', sa.Column('gave_up_at', sa.DateTime(), nullable=True))
    op.execute("UPDATE delivery SET gave_up_at = updated_at WHERE status = 'gave_up'")
    op.create_index('ix_delivery_rule_gave_up', 'delivery', ['rule_id', 'gave_up_at'])


def downgrade() -> None:
    op.drop_index('ix_delivery_rule_gave_up', table_name='delivery')
    op.drop_column('delivery', 'gave_up_at')
