"""A failed or errored test's <system-out> and <system-err> from its JUnit report (its last 16 KiB each), shown in the
failure's detail on the Tests tab (services/artifacts/junit.py)

Revision ID: 0048_testcase_output
Revises: 0047_run_project_finished
"""

import sqlalchemy as sa
from alembic import op

revision = '0048_testcase_output'
down_revision = '0047_run_project_finished'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('testcase', sa.Column('system_out', sa.Text(), nullable=True))
    op.add_column('testcase', sa.Column('system_err', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('testcase', 'system_err')
    op.drop_column('testcase', 'system_out')
