"""A project's and a schedule's edit version: 1 when made, one more at each edit that changes something, so an edit
made on the settings or the schedule as they were read is refused (409 edit_conflict) when another operator changed
them meanwhile, instead of the last save winning silently. Rows made before this start at 1. A schedule's `version`
stays the sweep's own counter (every firing moves it), which an editor could not have read.

Revision ID: 0054_edit_versions
Revises: 0053_notification_rule_version
"""

import sqlalchemy as sa
from alembic import op

revision = '0054_edit_versions'
down_revision = '0053_notification_rule_version'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('project', 'schedule'):
        op.add_column(table, sa.Column('edit_version', sa.Integer(), nullable=False, server_default='1'))


def downgrade() -> None:
    for table in ('schedule', 'project'):
        op.drop_column(table, 'edit_version')
