"""How each worker executes runs (its sandbox, its run limits, their warnings), as it says when it starts: a worker's
own environment decides them, so the Workers page shows each one's instead of the server's.

Revision ID: 0041_worker_confinement
Revises: 0040_run_resource_usage
"""

import sqlalchemy as sa
from alembic import op

revision = '0041_worker_confinement'
down_revision = '0040_run_resource_usage'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('worker', sa.Column('confinement', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    op.drop_column('worker', 'confinement')
