"""Notifications (docs/notifications.md): per-project rules (a signed webhook: URL, format, events, the signing
secret encrypted), their deliveries (one per rule and event: (rule_id, event_key) is unique, so two servers
never create two) and each delivery's attempts. A project's rules go with it (ON DELETE CASCADE), and a rule's
deliveries and their attempts with the rule.

Revision ID: 0011_notifications
Revises: 0010_team_features
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0011_notifications'
down_revision = '0010_team_features'
branch_labels = None
depends_on = None

TIME = sqlmodel.sql.sqltypes.UTCDateTime
TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        'notificationrule',
        sa.Column('id', TEXT(), nullable=False),
        sa.Column('project_id', TEXT(), nullable=False),
        sa.Column('name', TEXT(length=100), nullable=False),
        sa.Column('url', TEXT(length=2000), nullable=False),
        sa.Column('format', TEXT(length=20), nullable=False),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('secret_encrypted', sa.Text(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_by', TEXT(), nullable=True),
        sa.Column('created_at', TIME(), nullable=False),
        sa.Column('updated_at', TIME(), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['project.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notificationrule_project_id', 'notificationrule', ['project_id'])
    op.create_table(
        'delivery',
        sa.Column('id', TEXT(), nullable=False),
        sa.Column('rule_id', TEXT(), nullable=False),
        sa.Column('project_id', TEXT(length=64), nullable=False),
        sa.Column('event_id', TEXT(length=64), nullable=False),
        sa.Column('event_key', TEXT(length=200), nullable=False),
        sa.Column('event_type', TEXT(length=50), nullable=False),
        sa.Column('run_id', TEXT(length=64), nullable=True),
        sa.Column('facts', sa.JSON(), nullable=False),
        sa.Column('payload', sa.Text(), nullable=True),
        sa.Column('status', TEXT(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('round_start', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', TIME(), nullable=True),
        sa.Column('last_status_code', sa.Integer(), nullable=True),
        sa.Column('last_error', TEXT(length=500), nullable=True),
        sa.Column('claimed_by', TEXT(length=200), nullable=True),
        sa.Column('claimed_until', TIME(), nullable=True),
        sa.Column('created_at', TIME(), nullable=False),
        sa.Column('updated_at', TIME(), nullable=False),
        sa.Column('delivered_at', TIME(), nullable=True),
        sa.ForeignKeyConstraint(['rule_id'], ['notificationrule.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('rule_id', 'event_key', name='uq_delivery_rule_event'),
    )
    op.create_index('ix_delivery_due', 'delivery', ['status', 'next_attempt_at'])
    op.create_index('ix_delivery_project_id', 'delivery', ['project_id', 'id'])
    op.create_index('ix_delivery_rule_id', 'delivery', ['rule_id', 'id'])
    op.create_table(
        'deliveryattempt',
        sa.Column('delivery_id', TEXT(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('at', TIME(), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('error', TEXT(length=500), nullable=True),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.Column('redelivery', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['delivery_id'], ['delivery.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('delivery_id', 'number'),
    )


def downgrade() -> None:
    op.drop_table('deliveryattempt')
    op.drop_index('ix_delivery_rule_id', table_name='delivery')
    op.drop_index('ix_delivery_project_id', table_name='delivery')
    op.drop_index('ix_delivery_due', table_name='delivery')
    op.drop_table('delivery')
    op.drop_index('ix_notificationrule_project_id', table_name='notificationrule')
    op.drop_table('notificationrule')
