"""Retention (`RUNBOARD_ARTIFACT_RETENTION_DAYS`, 0 keeps them for ever): artifacts older than that leave the
store and the table, a batch at a time, oldest first, and the run remembers when (`artifacts_removed_at`), so its
page, its downloads (410 `artifacts_expired`) and `runboard runs artifacts` say they expired. Nothing else goes:
the run, its log and its test results stay (the history across runs reads them). Every server runs the sweep; two
at once read the same rows, both delete the files (a file already gone is no error) and the rows (a row already
gone deletes nothing).

A run's summary (`summary.md`, `$RUNBOARD_SUMMARY`) up to the 1 MiB its page shows stays with the run, as GitHub keeps
a run's job summaries after its artifacts expire: it is what the run said of itself, shown above its log."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import Engine, bindparam, text

from app.infra.db import session_scope
from app.models import utcnow
from app.services.artifacts.store import ArtifactStore
from app.services.runs.timeline import timed_sql

BATCH = 500
SUMMARY_PATH = 'summary.md'
SUMMARY_KEPT_BYTES = 1024 * 1024
MARK_REMOVED = text('UPDATE run SET artifacts_removed_at = :now WHERE id = :r AND artifacts_removed_at IS NULL')


def cutoff(now: datetime, days: float) -> datetime | None:
    """Pure: artifacts created before this moment are expired (None: retention is off)."""
    return now - timedelta(days=days) if days > 0 else None


def sweep(engine: Engine, store: ArtifactStore, *, days: float, now: datetime | None = None, batch: int = BATCH) -> int:
    """Remove expired artifacts; returns how many rows this call deleted. Files go first: a row without its file would
    answer 404 on download, a file without its row would be kept for ever."""
    before = cutoff(now or utcnow(), days)
    if before is None:
        return 0
    removed = 0
    while True:
        with session_scope(engine) as session:
            rows = (
                session.connection()
                .execute(
                    timed_sql(
                        'SELECT run_id, path, stored FROM artifact WHERE created_at < :before '
                        'AND NOT (path = :summary AND size <= :summary_bytes) ORDER BY created_at LIMIT :n',
                        binds=('before',),
                    ),
                    {'before': before, 'n': batch, 'summary': SUMMARY_PATH, 'summary_bytes': SUMMARY_KEPT_BYTES},
                )
                .all()
            )
        if not rows:
            return removed
        by_run: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        for run_id, path, stored in rows:
            by_run[run_id].append((path, bool(stored)))
        delete = text('DELETE FROM artifact WHERE run_id = :r AND path IN :paths').bindparams(
            bindparam('paths', expanding=True)
        )
        for run_id, entries in by_run.items():
            store.delete(run_id, [path for path, stored in entries if stored])
            with session_scope(engine) as session:
                gone = session.connection().execute(delete, {'r': run_id, 'paths': [path for path, _ in entries]})
                session.connection().execute(MARK_REMOVED, {'r': run_id, 'now': utcnow()})
            removed += gone.rowcount or 0  # another server's sweep may have deleted some of them first
        if len(rows) < batch:
            return removed


def stored_files_of_project(engine: Engine, project_id: str) -> dict[str, list[str]]:
    """Run id -> the stored artifacts of the project's runs: read before the project is deleted (its rows go with
    its runs), so its files can leave the store after."""
    found: dict[str, list[str]] = defaultdict(list)
    with session_scope(engine) as session:
        rows = session.connection().execute(
            text(
                'SELECT a.run_id, a.path FROM artifact a JOIN run r ON r.id = a.run_id '
                'WHERE r.project_id = :p AND a.stored'
            ),
            {'p': project_id},
        )
        for run_id, path in rows:
            found[run_id].append(path)
    return dict(found)


def delete_files(store: ArtifactStore, files: dict[str, list[str]]) -> None:
    for run_id, paths in files.items():
        store.delete(run_id, paths)
