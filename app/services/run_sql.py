"""The SQL of the admission path, in one place (raw DB-API: one round trip each on the hot path).
ACTIVE_SQL is the exact predicate text of the partial unique indexes over active runs, so they are used."""

from __future__ import annotations

ACTIVE_SQL = "status IN ('queued', 'running')"  # the exact text of the partial indexes, so they are used
RUN_FIELDS = (
    'id',
    'project_id',
    'kind',
    'status',
    'depth_level',
    'target_framework',
    'branch_name',
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
)
# the key row and, when it names one, its run (one round trip for a replay)
SQL_KEY_AND_RUN = (
    'SELECT k.fingerprint, k.run_id, k.expires_at, u.name, '
    + ', '.join(f'r.{f}' for f in RUN_FIELDS)
    + ' FROM idempotencykey k LEFT JOIN run r ON r.id = k.run_id'
    ' LEFT JOIN "user" u ON u.id = r.user_id WHERE k.user_id = :u AND k.key = :k'
)
SQL_KEY_INSERT = (
    'INSERT INTO idempotencykey (user_id, key, fingerprint, run_id, created_at, expires_at) '
    'VALUES (:u, :k, :fp, :run, :now, :expires) ON CONFLICT DO NOTHING'
)
SQL_KEY_DELETE_EXPIRED = 'DELETE FROM idempotencykey WHERE user_id = :u AND key = :k AND expires_at <= :now'
# everything the repository rules need, in one statement
SQL_REPOSITORY_FACTS = (
    'SELECT (SELECT count(*) FROM project WHERE id = :pid AND repository_key = :repo), '
    '(SELECT min(max_concurrent_runs) FROM project WHERE repository_key = :repo), '
    f'(SELECT count(*) FROM run WHERE repository_key = :repo AND {ACTIVE_SQL} AND slot IS NOT NULL), '
    f'(SELECT max(slot) FROM run WHERE repository_key = :repo AND {ACTIVE_SQL} AND slot IS NOT NULL), '
    f'(SELECT id FROM run WHERE repository_key = :repo AND branch_name = :branch AND {ACTIVE_SQL})'
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
)
SQL_RUN_INSERT = f'INSERT INTO run ({", ".join(RUN_COLUMNS)}) VALUES ({", ".join(":" + c for c in RUN_COLUMNS)})'
SQL_FIRST_EVENT = "INSERT INTO runevent (run_id, seq, at, type, text) VALUES (:run, 1, :at, 'status', :text)"
SQL_ADVISORY_LOCK = 'SELECT pg_advisory_xact_lock(:k)'
