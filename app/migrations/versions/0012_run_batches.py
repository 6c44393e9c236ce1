"""Matrix (batch) triggers (docs/triggers.md, "Matrix triggers"): the batch table (one row per batch: its
(user_id, key) unique constraint lets one request, on one server, create it), run.batch_id, one run per cell
of a batch (uq_run_batch_cell), and the PR lock's unique index narrowed to runs outside batches, so a batch's
children on one branch do not lock each other out (who holds a branch is read through ix_run_active_branch).

run.batch_id has no foreign key: SQLite cannot add one to an existing table without copying it, and a copy
of `run` would trip the foreign keys pointing at it. Batches are deleted only with their project's runs.

Revision ID: 0012_run_batches
Revises: 0011_notifications
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0012_run_batches'
down_revision = '0011_notifications'
branch_labels = None
depends_on = None

TIME = sqlmodel.sql.sqltypes.UTCDateTime
TEXT = sqlmodel.sql.sqltypes.AutoString
ACTIVE = "status IN ('queued', 'running')"


def _where(predicate: str) -> dict:
    return {'sqlite_where': sa.text(predicate), 'postgresql_where': sa.text(predicate)}


def upgrade() -> None:
    op.create_table(
        'batch',
        sa.Column('id', TEXT(), nullable=False),
        sa.Column('user_id', TEXT(), nullable=False),
        sa.Column('project_id', TEXT(), nullable=False),
        sa.Column('key', TEXT(length=255), nullable=False),
        sa.Column('fingerprint', TEXT(length=64), nullable=False),
        sa.Column('mode', TEXT(length=20), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('status', TEXT(length=20), nullable=False),
        sa.Column('admitted', sa.Integer(), nullable=False),
        sa.Column('refused', sa.Integer(), nullable=False),
        sa.Column('refusals', sa.JSON(), nullable=False),
        sa.Column('created_at', TIME(), nullable=False),
        sa.Column('updated_at', TIME(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user.id']),
        sa.ForeignKeyConstraint(['project_id'], ['project.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'key', name='uq_batch_user_key'),
    )
    op.create_index('ix_batch_project_id', 'batch', ['project_id', 'id'])
    # ALTER TABLE ... ADD COLUMN (no batch copy of `run`: see the docstring)
    op.add_column('run', sa.Column('batch_id', TEXT(), nullable=True))
    op.create_index(
        'uq_run_batch_cell',
        'run',
        ['batch_id', 'depth_level', 'target_framework'],
        unique=True,
        **_where('batch_id IS NOT NULL'),
    )
    op.create_index('ix_run_active_branch', 'run', ['repository_key', 'branch_name'], **_where(ACTIVE))
    op.drop_index('uq_run_active_branch', table_name='run', **_where(ACTIVE))
    op.create_index(
        'uq_run_active_branch',
        'run',
        ['repository_key', 'branch_name'],
        unique=True,
        **_where(f'{ACTIVE} AND batch_id IS NULL'),
    )


def downgrade() -> None:
    # a database holding active siblings on one branch cannot take the old index back: stop them first
    op.drop_index('uq_run_active_branch', table_name='run', **_where(f'{ACTIVE} AND batch_id IS NULL'))
    op.create_index('uq_run_active_branch', 'run', ['repository_key', 'branch_name'], unique=True, **_where(ACTIVE))
    op.drop_index('ix_run_active_branch', table_name='run', **_where(ACTIVE))
    op.drop_index('uq_run_batch_cell', table_name='run', **_where('batch_id IS NOT NULL'))
    op.drop_column('run', 'batch_id')  # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35)
    op.drop_index('ix_batch_project_id', table_name='batch')
    op.drop_table('batch')
