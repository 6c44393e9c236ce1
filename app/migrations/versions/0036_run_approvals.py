"""Approvals: a project may have the runs of its protected branches that someone other than an operator starts wait
for an operator's approval (services/runs/approvals.py)

Revision ID: 0036_run_approvals
Revises: 0035_protected_variables
"""

import sqlalchemy as sa
from alembic import op

revision = '0036_run_approvals'
down_revision = '0035_protected_variables'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('project', sa.Column('approval_required', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('run', sa.Column('approval', sa.String(length=10), nullable=True))
    op.add_column('run', sa.Column('approved_by', sa.String(length=200), nullable=True))
    op.add_column('run', sa.Column('approved_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column('run', 'approved_at')
    op.drop_column('run', 'approved_by')
    op.drop_column('run', 'approval')
    op.drop_column('project', 'approval_required')
