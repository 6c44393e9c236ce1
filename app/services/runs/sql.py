"""SQL about runs, in one place: the repository facts the admission reads (services/runs/writer.py) and the
small queries other services ask about active runs. ACTIVE_SQL is the exact predicate text of the partial unique
indexes, so they are used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

from app.models import ACTIVE_SQL, LOOP_RUN_SQL
from app.models.vocabulary import AWAITING_APPROVAL_SQL

# everything the repository rules need, in one statement, each part an index lookup (flat as runs pile up).
# The branch's holder: a run outside the requesting batch (:batch, '' for none) whenever there is one, as a
# batch's children may share a branch (admission.repository_verdict decides whether it locks the request out).
_HOLDER = (
    f'FROM run WHERE repository_key = :repo AND branch_name = :branch AND {ACTIVE_SQL} '
    'ORDER BY CASE WHEN batch_id = :batch THEN 1 ELSE 0 END, id LIMIT 1'
)
REPOSITORY_FACTS_COLUMNS = (  # also returned by the key's claim on SQLite (services/runs/writer.py)
    '(SELECT count(*) FROM project WHERE id = :pid AND repository_key = :repo), '
    '(SELECT min(max_concurrent_runs) FROM project WHERE repository_key = :repo), '
    f'(SELECT max(slot) FROM run WHERE repository_key = :repo AND {ACTIVE_SQL} AND slot IS NOT NULL), '
    f'(SELECT id {_HOLDER}), (SELECT batch_id {_HOLDER})'
)
REPOSITORY_FACTS = text('SELECT ' + REPOSITORY_FACTS_COLUMNS)
# asked only when the highest slot reaches the limit (else max(slot) + 1 is free): counting stops there
SLOTTED_COUNT = text(
    'SELECT count(*) FROM (SELECT 1 FROM run WHERE repository_key = :repo AND '
    f'{ACTIVE_SQL} AND slot IS NOT NULL LIMIT :limit) AS held'
)
SLOTTED_IDS = text(
    f'SELECT id FROM run WHERE repository_key = :repo AND {ACTIVE_SQL} AND slot IS NOT NULL ORDER BY id LIMIT 100'
)
SLOTS = text(f'SELECT slot FROM run WHERE repository_key = :repo AND {ACTIVE_SQL} AND slot IS NOT NULL')


# ------------------------------------------------------------------ questions about active runs
def count_active(conn: Connection) -> int:
    return int(conn.execute(text(f'SELECT count(*) FROM run WHERE {ACTIVE_SQL}')).scalar_one())


def active_counts_by_project(conn: Connection) -> dict[str, int]:
    """Active runs per project, read through the status index (never every run of a project)."""
    rows = conn.execute(text(f'SELECT project_id, count(*) FROM run WHERE {ACTIVE_SQL} GROUP BY project_id'))
    return {project_id: int(count) for project_id, count in rows}


def awaiting_approval_by_project(conn: Connection) -> dict[str, int]:
    """Runs waiting for an operator's approval per project, read through the status index (delayed runs only)."""
    sql = f'SELECT project_id, count(*) FROM run WHERE {AWAITING_APPROVAL_SQL} GROUP BY project_id'
    return {project_id: int(count) for project_id, count in conn.execute(text(sql))}


def active_run_ids(conn: Connection, *, project_id: str | None = None) -> list[str]:
    if project_id is None:
        return list(conn.execute(text(f'SELECT id FROM run WHERE {ACTIVE_SQL}')).scalars())
    sql = f'SELECT id FROM run WHERE project_id = :p AND {ACTIVE_SQL}'
    return list(conn.execute(text(sql), {'p': project_id}).scalars())


def busy_branches(conn: Connection, repository_key: str) -> dict[str, str]:
    """branch name -> the active run holding its PR lock, for one repository scope."""
    sql = f'SELECT branch_name, id FROM run WHERE repository_key = :repo AND {ACTIVE_SQL}'
    return {branch: run_id for branch, run_id in conn.execute(text(sql), {'repo': repository_key}).all()}


def loop_run_in_flight(conn: Connection, project_id: str) -> bool:
    sql = f'SELECT 1 FROM run WHERE project_id = :p AND {LOOP_RUN_SQL} AND {ACTIVE_SQL} LIMIT 1'
    return conn.execute(text(sql), {'p': project_id}).first() is not None


def projects_with_loop_run_in_flight(conn: Connection) -> set[str]:
    return set(conn.execute(text(f'SELECT project_id FROM run WHERE {LOOP_RUN_SQL} AND {ACTIVE_SQL}')).scalars())


def last_auto_launch(conn: Connection) -> dict[str, datetime | str]:
    """project id -> when its last AFK run was created (a string on SQLite: callers use models.as_utc)."""
    sql = "SELECT project_id, max(created_at) FROM run WHERE kind = 'auto' GROUP BY project_id"
    return {project_id: at for project_id, at in conn.execute(text(sql)).all()}
