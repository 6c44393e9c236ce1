"""A project's badge key: the README status and coverage badges' addresses carry it (services/projects/badges.py)

Revision ID: 0027_project_badges
Revises: 0026_run_coverage
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0027_project_badges'
down_revision = '0026_run_coverage'
branch_labels = None
depends_on = None

TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    # ALTER TABLE ... ADD COLUMN: a batch copy of `project` would trip the foreign keys pointing at it
    op.add_column('project', sa.Column('badge_key', TEXT(), nullable=True))


def downgrade() -> None:
    op.drop_column('project', 'badge_key')
