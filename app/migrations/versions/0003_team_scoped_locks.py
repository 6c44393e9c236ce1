"""Locks and concurrency slots are scoped per team: repository_key becomes '<team>:<repository>'

Revision ID: 0003_tenancy
Revises: 0002_afk
"""
from alembic import op

revision = '0003_tenancy'
down_revision = '0002_afk'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE project SET repository_key = team_id || ':' || repository_key")
    op.execute('UPDATE run SET repository_key = (SELECT p.repository_key FROM project p WHERE p.id = run.project_id)')


def downgrade() -> None:
    op.execute("UPDATE project SET repository_key = substr(repository_key, length(team_id) + 2)")
    op.execute('UPDATE run SET repository_key = (SELECT p.repository_key FROM project p WHERE p.id = run.project_id)')
