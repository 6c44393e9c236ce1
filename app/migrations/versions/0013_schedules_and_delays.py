"""Schedules, delayed runs and a time-to-live for queued runs (docs/triggers.md): the schedule table (cron, time
zone, fixed run parameters, owner, the next slot and a version two servers compare-and-set on), the
schedulefiring table (one row per slot: its primary key (schedule_id, slot) lets one server fire a slot), the
run's run_at / ttl_seconds / expires_at and the project's queued_ttl_seconds.

Revision ID: 0013_schedules_and_delays
Revises: 0012_run_batches
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0013_schedules_and_delays'
down_revision = '0012_run_batches'
branch_labels = None
depends_on = None

TIME = sqlmodel.sql.sqltypes.UTCDateTime
TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    # ALTER TABLE ... ADD COLUMN: a batch copy of `run` would trip the foreign keys pointing at it
    op.add_column('project', sa.Column('queued_ttl_seconds', sa.Integer(), nullable=True))
    op.add_column('run', sa.Column('run_at', TIME(), nullable=True))
    op.add_column('run', sa.Column('ttl_seconds', sa.Integer(), nullable=True))
    op.add_column('run', sa.Column('expires_at', TIME(), nullable=True))
    op.create_table(
        'schedule',
        sa.Column('id', TEXT(), nullable=False),
        sa.Column('project_id', TEXT(), nullable=False),
        sa.Column('name', TEXT(length=100), nullable=False),
        sa.Column('cron', TEXT(length=200), nullable=False),
        sa.Column('timezone', TEXT(length=64), nullable=False),
        sa.Column('branch', TEXT(length=250), nullable=False),
        sa.Column('depth_level', TEXT(length=64), nullable=False),
        sa.Column('target_framework', TEXT(length=64), nullable=False),
        sa.Column('catch_up', TEXT(length=10), nullable=False),
        sa.Column('paused', sa.Boolean(), nullable=False),
        sa.Column('user_id', TEXT(), nullable=False),
        sa.Column('next_fire_at', TIME(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', TIME(), nullable=False),
        sa.Column('updated_at', TIME(), nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['project.id']),
        sa.ForeignKeyConstraint(['user_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('project_id', 'name', name='uq_schedule_project_name'),
    )
    op.create_index('ix_schedule_project_id', 'schedule', ['project_id'])
    op.create_index('ix_schedule_next_fire', 'schedule', ['next_fire_at'])
    op.create_table(
        'schedulefiring',
        sa.Column('schedule_id', TEXT(), nullable=False),
        sa.Column('slot', TIME(), nullable=False),
        sa.Column('state', TEXT(length=10), nullable=False),
        sa.Column('run_id', TEXT(), nullable=True),
        sa.Column('reason', TEXT(length=50), nullable=True),
        sa.Column('detail', TEXT(length=500), nullable=True),
        sa.Column('late', sa.Boolean(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', TIME(), nullable=False),
        sa.Column('updated_at', TIME(), nullable=False),
        sa.ForeignKeyConstraint(['schedule_id'], ['schedule.id']),
        sa.PrimaryKeyConstraint('schedule_id', 'slot'),
    )


def downgrade() -> None:
    op.drop_table('schedulefiring')
    op.drop_index('ix_schedule_next_fire', table_name='schedule')
    op.drop_index('ix_schedule_project_id', table_name='schedule')
    op.drop_table('schedule')
    # ALTER TABLE ... DROP COLUMN (SQLite >= 3.35)
    op.drop_column('run', 'expires_at')
    op.drop_column('run', 'ttl_seconds')
    op.drop_column('run', 'run_at')
    op.drop_column('project', 'queued_ttl_seconds')
