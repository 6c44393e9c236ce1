"""Runs list at any size: an index on (filter column, id) for each filter, so a page reads only its rows

Revision ID: 0007_run_list_indexes
Revises: 0006_workers
"""

from alembic import op

revision = '0007_run_list_indexes'
down_revision = '0006_workers'
branch_labels = None
depends_on = None

INDEXES = {
    'ix_run_project_id': 'project_id',
    'ix_run_status_id': 'status',
    'ix_run_kind_id': 'kind',
    'ix_run_user_id': 'user_id',
    'ix_run_branch_id': 'branch_name',
}


def upgrade() -> None:
    for name, column in INDEXES.items():
        op.create_index(name, 'run', [column, 'id'])


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name='run')
