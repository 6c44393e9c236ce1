"""AFK rules: only loop runs are serial per project; a project remembers its last AFK launch failure

Revision ID: 0002_afk
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

revision = '0002_afk'
down_revision = '0001'
branch_labels = None
depends_on = None

OLD_ACTIVE_AUTO = "kind = 'auto' AND status IN ('queued', 'running')"
ACTIVE_LOOP = "kind = 'auto' AND user_id IS NULL AND status IN ('queued', 'running')"


def upgrade() -> None:
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('launch_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('launch_error_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_index('uq_run_active_auto', sqlite_where=sa.text(OLD_ACTIVE_AUTO),
                            postgresql_where=sa.text(OLD_ACTIVE_AUTO))
        batch_op.create_index('uq_run_active_auto', ['project_id'], unique=True, sqlite_where=sa.text(ACTIVE_LOOP),
                              postgresql_where=sa.text(ACTIVE_LOOP))


def downgrade() -> None:
    with op.batch_alter_table('run', schema=None) as batch_op:
        batch_op.drop_index('uq_run_active_auto', sqlite_where=sa.text(ACTIVE_LOOP),
                            postgresql_where=sa.text(ACTIVE_LOOP))
        batch_op.create_index('uq_run_active_auto', ['project_id'], unique=True,
                              sqlite_where=sa.text(OLD_ACTIVE_AUTO), postgresql_where=sa.text(OLD_ACTIVE_AUTO))
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_column('launch_error_at')
        batch_op.drop_column('launch_error')
