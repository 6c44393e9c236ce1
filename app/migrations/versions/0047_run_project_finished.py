"""An index of a project's runs by when they ended: the AFK summary reads the runs that started before its window and
ended in it (or not yet) without reading the project's whole history before it (services/afk/summary.py)

Revision ID: 0047_run_project_finished
Revises: 0046_webhook_previous_secret
"""

from alembic import op

revision = '0047_run_project_finished'
down_revision = '0046_webhook_previous_secret'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_run_project_finished', 'run', ['project_id', 'finished_at'])


def downgrade() -> None:
    op.drop_index('ix_run_project_finished', table_name='run')
