"""Project variables and secrets (the names a run's sandbox receives) and the project's network setting

Revision ID: 0015_project_environment
Revises: 0014_run_status_expiry_index
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0015_project_environment'
down_revision = '0014_run_status_expiry_index'
branch_labels = None
depends_on = None

TIME = sqlmodel.sql.sqltypes.UTCDateTime
TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        'project_variable',
        sa.Column('project_id', TEXT(), sa.ForeignKey('project.id'), primary_key=True),
        sa.Column('name', TEXT(length=100), primary_key=True),
        sa.Column('secret', sa.Boolean(), nullable=False),
        sa.Column('value', TEXT(), nullable=False),  # a secret's value is a Fernet token
        sa.Column('set_by', TEXT(), nullable=True),
        sa.Column('updated_at', TIME(), nullable=False),
    )
    # ALTER TABLE ... ADD COLUMN: a batch copy of `project` would trip the foreign keys pointing at it
    op.add_column('project', sa.Column('network', TEXT(length=20), nullable=False, server_default='default'))


def downgrade() -> None:
    op.drop_column('project', 'network')
    op.drop_table('project_variable')
