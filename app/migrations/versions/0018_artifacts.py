"""Artifacts and test reports: the files a run left (kept in the artifact store), its JUnit totals and test cases

Revision ID: 0018_artifacts
Revises: 0017_run_annotations
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0018_artifacts'
down_revision = '0017_run_annotations'
branch_labels = None
depends_on = None

TIME = sqlmodel.sql.sqltypes.UTCDateTime
TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        'artifact',
        sa.Column('run_id', TEXT(), nullable=False),
        sa.Column('path', TEXT(length=1024), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('content_type', TEXT(length=200), nullable=False),
        sa.Column('stored', sa.Boolean(), nullable=False),
        sa.Column('refused', TEXT(length=500), nullable=True),
        sa.Column('created_at', TIME(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['run.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', 'path'),
    )
    op.create_index('ix_artifact_created', 'artifact', ['created_at'])
    op.create_table(
        'testreport',
        sa.Column('run_id', TEXT(), nullable=False),
        sa.Column('project_id', TEXT(length=64), nullable=False),
        sa.Column('branch_name', TEXT(), nullable=False),
        sa.Column('commit_sha', TEXT(length=64), nullable=True),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('passed', sa.Integer(), nullable=False),
        sa.Column('failed', sa.Integer(), nullable=False),
        sa.Column('errors', sa.Integer(), nullable=False),
        sa.Column('skipped', sa.Integer(), nullable=False),
        sa.Column('duration_seconds', sa.Float(), nullable=False),
        sa.Column('reports', sa.Text(), nullable=True),
        sa.Column('problems', sa.Text(), nullable=True),
        sa.Column('created_at', TIME(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['run.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id'),
    )
    op.create_index('ix_testreport_project_run', 'testreport', ['project_id', 'run_id'])
    op.create_index('ix_testreport_branch_run', 'testreport', ['project_id', 'branch_name', 'run_id'])
    op.create_table(
        'testcase',
        sa.Column('run_id', TEXT(), nullable=False),
        sa.Column('idx', sa.Integer(), nullable=False),
        sa.Column('test_id', TEXT(length=1000), nullable=False),
        sa.Column('classname', TEXT(length=500), nullable=False),
        sa.Column('name', TEXT(length=500), nullable=False),
        sa.Column('status', TEXT(length=10), nullable=False),
        sa.Column('duration_seconds', sa.Float(), nullable=False),
        sa.Column('message', sa.Text(), nullable=True),
        sa.Column('trace', sa.Text(), nullable=True),
        sa.Column('report', TEXT(length=1024), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['run.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', 'idx'),
    )
    op.create_index('ix_testcase_test_run', 'testcase', ['test_id', 'run_id'])


def downgrade() -> None:
    op.drop_index('ix_testcase_test_run', table_name='testcase')
    op.drop_table('testcase')
    op.drop_index('ix_testreport_branch_run', table_name='testreport')
    op.drop_index('ix_testreport_project_run', table_name='testreport')
    op.drop_table('testreport')
    op.drop_index('ix_artifact_created', table_name='artifact')
    op.drop_table('artifact')
