"""A text artifact's preview masked as the run's log is: each text file's first 64 KiB is read for the run's secrets
and ::add-mask:: values when it is kept (services/artifacts/collect.py), and its masked text kept when masking changed
it. Files kept before this were not checked (`preview_checked` false): their preview stays their own bytes.

Revision ID: 0052_artifact_preview
Revises: 0051_run_summary
"""

import sqlalchemy as sa
from alembic import op

revision = '0052_artifact_preview'
down_revision = '0051_run_summary'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('artifact', sa.Column('preview_checked', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('artifact', sa.Column('preview', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('artifact', 'preview')
    op.drop_column('artifact', 'preview_checked')
