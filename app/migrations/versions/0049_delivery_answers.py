"""What a webhook's receiver answered to each attempt: its Content-Type and the first 2 KiB of its body as inert text
(services/notifications/answers.py), shown to operators only (docs/notifications.md, "What the receiver answered").
Before, only the status code was kept.

Revision ID: 0049_delivery_answers
Revises: 0048_testcase_output
"""

import sqlalchemy as sa
from alembic import op

revision = '0049_delivery_answers'
down_revision = '0048_testcase_output'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('deliveryattempt', sa.Column('answer_content_type', sa.String(length=200), nullable=True))
    op.add_column('deliveryattempt', sa.Column('answer_excerpt', sa.Text(), nullable=True))
    op.add_column(
        'deliveryattempt', sa.Column('answer_truncated', sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column('deliveryattempt', 'answer_truncated')
    op.drop_column('deliveryattempt', 'answer_excerpt')
    op.drop_column('deliveryattempt', 'answer_content_type')
