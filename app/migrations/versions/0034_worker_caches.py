"""What each Celery worker last said of the run caches on its machine: {project id: {generation, sizes}}, written
with its heartbeat (services/execution/caches.py), shown in the project's Settings beside the server's own

Revision ID: 0034_worker_caches
Revises: 0033_project_log_retention
"""

import sqlalchemy as sa
from alembic import op

revision = '0034_worker_caches'
down_revision = '0033_project_log_retention'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('worker', sa.Column('caches', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    op.drop_column('worker', 'caches')
