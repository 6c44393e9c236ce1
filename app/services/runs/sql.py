"""SQL about runs, in one place: the admission path's statements (raw DB-API strings: one round trip each
on the hot path) and the small queries other services ask about active runs (over a SQLAlchemy
Connection). ACTIVE_SQL is the exact predicate text of the partial unique indexes, so they are used."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

from app.models import ACTIVE_SQL, LOOP_RUN_SQL

RUN_FIELDS = (
    'id',
    'project_id',
    'kind',
    'status',
    'depth_level',
    'target_framework',
    'branch_name',
    'commit_sha',
    'user_id',
    'idempotency_key',
    'retry_of',
    'issue_number',
    'issue_title',
    'created_at',
    'started_at',
    'finished_at',
    'deadline_at',
    'heartbeat_at',
    'exit_code',
    'error',
    'correlation_id',
    'output_lines',
    'last_seq',
    'run_at',
    'ttl_seconds',
    'expires_at',
    'batch_id',
)
# the key row and, when it names one, its run (one round trip for a replay)
SQL_KEY_AND_RUN = (
    'SELECT k.fingerprint, k.run_id, k.expires_at, u.name, '
    + ', '.join(f'r.{f}' for f in RUN_FIELDS)
    + ' FROM idempotencykey k LEFT JOIN run r ON r.id = k.run_id'
    ' LEFT JOIN "user" u ON u.id = r.user_id WHERE k.user_id = :u AND k.key = :k'
)
# the same when the key names another run than :run (the one a claim just wrote names :run): asked in the same
# round trip as the claim, so a replay needs no trip of its own (services/runs/admission_write.py)
SQL_OTHER_KEY_AND_RUN = SQL_KEY_AND_RUN + ' AND k.run_id <> :run'
SQL_KEY_INSERT = (
    'INSERT INTO idempotencykey (user_id, key, fingerprint, run_id, created_at, expires_at) '
    'VALUES (:u, :k, :fp, :run, :now, :expires) ON CONFLICT DO NOTHING'
)
# PostgreSQL: the claim and, when it claimed the key, the repository's advisory lock, in one round trip; the
# repository facts are read by the next statement, whose snapshot comes after the lock (READ COMMITTED)
SQL_KEY_CLAIM_AND_LOCK = (
    f'WITH claimed AS ({SQL_KEY_INSERT} RETURNING 1) SELECT pg_advisory_xact_lock(:lock) FROM claimed'
)
SQL_KEY_DELETE_EXPIRED = 'DELETE FROM idempotencykey WHERE user_id = :u AND key = :k AND expires_at <= :now'
# everything the repository rules need, in one statement, each part an index lookup (flat as runs pile up).
# The branch's holder: a run outside the requesting batch (:batch, '' for none) whenever there is one, as a
# batch's children may share a branch (admission.repository_verdict decides whether it locks the request out).
_HOLDER = (
    f'FROM run WHERE repository_key = :repo AND branch_name = :branch AND {ACTIVE_SQL} '
    'ORDER BY CASE WHEN batch_id = :batch THEN 1 ELSE 0 END, id LIMIT 1'
)
SQL_REPOSITORY_FACTS = (
    'SELECT (SELECT count(*) FROM project WHERE id = :pid AND repository_key = :repo), '
    '(SELECT min(max_concurrent_runs) FROM project WHERE repository_key = :repo), '
    f'(SELECT max(slot) FROM run WHERE repository_key = :repo AND {ACTIVE_SQL} AND slot IS NOT NULL), '
    f'(SELECT id {_HOLDER}), (SELECT batch_id {_HOLDER})'
)
# asked only when the highest slot reaches the limit (else max(slot) + 1 is free): counting stops there
SQL_SLOTTED_COUNT = (
    'SELECT count(*) FROM (SELECT 1 FROM run WHERE repository_key = :repo AND '
    f'{ACTIVE_SQL} AND slot IS NOT NULL LIMIT :limit) AS held'
)
SQL_SLOTTED_IDS = (
    f'SELECT id FROM run WHERE repository_key = :repo AND {ACTIVE_SQL} AND slot IS NOT NULL ORDER BY id LIMIT 100'
)
SQL_SLOTS = f'SELECT slot FROM run WHERE repository_key = :repo AND {ACTIVE_SQL} AND slot IS NOT NULL'
RUN_COLUMNS = (
    'id',
    'project_id',
    'repository_key',
    'kind',
    'status',
    'depth_level',
    'target_framework',
    'branch_name',
    'checkout_ref',
    'commit_sha',
    'user_id',
    'idempotency_key',
    'payload_fingerprint',
    'retry_of',
    'issue_number',
    'issue_title',
    'slot',
    'created_at',
    'budget_seconds',
    'correlation_id',
    'last_seq',
    'output_lines',
    'run_at',
    'ttl_seconds',
    'expires_at',
    'batch_id',
)
SQL_RUN_INSERT = f'INSERT INTO run ({", ".join(RUN_COLUMNS)}) VALUES ({", ".join(":" + c for c in RUN_COLUMNS)})'
SQL_FIRST_EVENT = "INSERT INTO runevent (run_id, seq, at, type, text) VALUES (:run, 1, :at, 'status', :text)"
SQL_ADVISORY_LOCK = 'SELECT pg_advisory_xact_lock(:k)'
AUDIT_COLUMNS = (
    'id',
    'at',
    'team_id',
    'actor_id',
    'actor_name',
    'token_id',
    'action',
    'project_id',
    'target',
    'details',
    'correlation_id',
)
SQL_AUDIT = f'INSERT INTO auditentry ({", ".join(AUDIT_COLUMNS)}) VALUES ({", ".join(":" + c for c in AUDIT_COLUMNS)})'
# PostgreSQL: the run, its first event and its audit entry in one statement, one round trip instead of three
# (SQLite has no INSERT inside WITH). The audit entry's parameters are named audit_<column>; the event's text
# first_event_text. The foreign keys are checked at the statement's end, when the run row is there.
SQL_RUN_WRITE = (
    f'WITH written AS ({SQL_RUN_INSERT}), '
    "first_event AS (INSERT INTO runevent (run_id, seq, at, type, text) VALUES (:id, 1, :created_at, 'status', "
    ':first_event_text)) '
    f'INSERT INTO auditentry ({", ".join(AUDIT_COLUMNS)}) VALUES ({", ".join(":audit_" + c for c in AUDIT_COLUMNS)})'
)


# ------------------------------------------------------------------ questions about active runs
def count_active(conn: Connection) -> int:
    return int(conn.execute(text(f'SELECT count(*) FROM run WHERE {ACTIVE_SQL}')).scalar_one())


def active_counts_by_project(conn: Connection) -> dict[str, int]:
    """Active runs per project, read through the status index (never every run of a project)."""
    rows = conn.execute(text(f'SELECT project_id, count(*) FROM run WHERE {ACTIVE_SQL} GROUP BY project_id'))
    return {project_id: int(count) for project_id, count in rows}


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
