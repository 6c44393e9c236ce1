"""Bulk Stop, Retry and Approve: one request over a list of runs or every run matching a filter, under one
Idempotency-Key, answered per run (done, skipped with the reason, refused with the problem).

How the database decides the races: the first request inserts the (user, key) row of the bulkaction table;
a second one with the same key, on any server, fails that insert and reads the row instead: the answer if
the first has finished, 409 `bulk_in_progress` while it runs, 422 if the payload differs. The runs acted on
are fixed in that row before anything is done, so a resend never widens a filter to runs created since.
Each run then goes through the single-run rules (the stop guard, the retry's admission with a key derived
from the bulk key: quota, concurrency and PR lock per run, and a resumed action replays those retries; an approval
lets a run waiting for one go, and skips any other, services/runs/approvals.py). Only operators may approve: a
builder's bulk Approve is refused whole, before anything is recorded.
A bulk action left `running` by a server that died is resumed by a resend after STALE_SECONDS. One refused
before it acted on any run (a bad filter, too many runs) leaves no row: its key is free for the corrected request."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.core.errors import DomainError, forbidden
from app.models import BulkAction, Run, as_utc, utcnow
from app.services.identity.accounts import Principal
from app.services.runs import reads as run_reads

MAX_RUNS = 500
STALE_SECONDS = 300
ACTIONS = ('stop', 'retry', 'approve')
SKIPPED_ERRORS = ('run_ended', 'not_retryable', 'not_awaiting_approval')  # not this run's turn, not a refusal
ENDED = ('succeeded', 'failed', 'timed_out', 'crashed', 'stopped', 'expired', 'skipped', 'cancelled')


def fingerprint(action: str, run_ids: list[str] | None, filters: dict[str, Any] | None) -> str:
    body = json.dumps({'action': action, 'run_ids': run_ids, 'filters': filters}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def child_key(key: str, run_id: str) -> str:
    """The retry of one run inside a bulk action: a resend (or a resumed action) replays it."""
    return f'bulk:{hashlib.sha256(key.encode()).hexdigest()[:24]}:{run_id}'


def stop_verdict(run: Run) -> str | None:
    """Pure: why a run is skipped by a bulk Stop (None: stop it)."""
    if run.status in ENDED:
        return f'already ended ({run.status})'
    if run.status == 'stopping' or run.stop_requested_at is not None:
        return 'already being stopped'
    return None


def summary(items: list[dict[str, Any]]) -> dict[str, int]:
    counts = {'done': 0, 'skipped': 0, 'refused': 0}
    for item in items:
        counts[item['outcome']] += 1
    return counts


class BulkActions:
    def __init__(
        self,
        *,
        engine: Engine,
        stop: Callable[[Principal, str], Any],
        retry: Callable[[Principal, str, str, str | None], Any],
        approve: Callable[[Principal, str], Any],
    ) -> None:
        self.engine, self.stop, self.retry, self.approve = engine, stop, retry, approve

    def run(
        self,
        principal: Principal,
        *,
        action: str,
        run_ids: list[str] | None,
        filters: dict[str, Any] | None,
        key: str,
        correlation_id: str | None,
    ) -> tuple[dict[str, Any], bool]:
        """(the answer, replayed)."""
        if action not in ACTIONS:
            raise DomainError(422, 'validation', f'action must be one of {", ".join(ACTIONS)}.', field='action')
        if (run_ids is None) == (filters is None):
            raise DomainError(422, 'validation', 'Send either run_ids or filter, not both and not neither.')
        if action == 'approve' and not principal.is_operator:
            raise forbidden('only operators can approve runs')
        if run_ids is not None and not 0 < len(run_ids) <= MAX_RUNS:
            raise DomainError(422, 'validation', f'run_ids holds 1 to {MAX_RUNS} runs.', field='run_ids')
        stamp = fingerprint(action, run_ids, filters)
        record = self._claim(principal, key, stamp, action)
        if record.status == 'done' and record.result is not None:
            return record.result, True
        targets = record.targets
        if not targets:
            try:
                targets = self._targets(principal, run_ids, filters)
            except DomainError:  # refused before acting on any run (a bad filter, too many runs): the key stays free
                self._release(principal, key, stamp)
                raise
        self._save(principal, key, targets=targets)
        items = [self._one(principal, action, run_id, key, correlation_id) for run_id in targets]
        result = {'action': action, 'idempotency_key': key, 'items': items, 'summary': summary(items)}
        self._save(principal, key, result=result)
        return result, False

    def _claim(self, principal: Principal, key: str, stamp: str, action: str) -> BulkAction:
        try:
            with Session(self.engine) as session, session.begin():
                session.add(BulkAction(user_id=principal.user_id, key=key, fingerprint=stamp, action=action))
            return BulkAction(user_id=principal.user_id, key=key, fingerprint=stamp, action=action)
        except IntegrityError:
            pass
        with Session(self.engine) as session:
            found = session.get(BulkAction, (principal.user_id, key))
        if found is None:  # deleted between the two statements: nothing of it remains
            raise DomainError(409, 'bulk_in_progress', 'Send it again.', headers={'Retry-After': '1'})
        if found.fingerprint != stamp:
            raise DomainError(422, 'idempotency_key_mismatch', 'This Idempotency-Key was used for another bulk action.')
        started = as_utc(found.created_at)
        if found.status == 'running' and started and utcnow() - started < timedelta(seconds=STALE_SECONDS):
            raise DomainError(
                409,
                'bulk_in_progress',
                'This bulk action is still being carried out; send it again to get its answer.',
                headers={'Retry-After': '2'},
            )
        return found

    def _release(self, principal: Principal, key: str, stamp: str) -> None:
        """Forgets a claimed action that has acted on nothing, so its resend (or a corrected one) starts afresh."""
        with Session(self.engine) as session, session.begin():
            record = session.get(BulkAction, (principal.user_id, key), with_for_update=True)
            if record is not None and record.fingerprint == stamp and record.status == 'running' and not record.targets:
                session.delete(record)

    def _save(self, principal: Principal, key: str, **changes: Any) -> None:
        with Session(self.engine) as session, session.begin():
            record = session.get(BulkAction, (principal.user_id, key))
            assert record is not None
            if 'targets' in changes:
                record.targets = changes['targets']
            if 'result' in changes:
                record.result, record.status, record.finished_at = changes['result'], 'done', utcnow()
            session.add(record)

    def _targets(self, principal: Principal, run_ids: list[str] | None, filters: dict[str, Any] | None) -> list[str]:
        if run_ids is not None:
            return list(dict.fromkeys(run_ids))
        found, cursor = [], None
        while True:
            page, cursor = run_reads.list_runs(self.engine, principal, **(filters or {}), cursor=cursor, limit=MAX_RUNS)
            found += [run.id for run in page]
            if len(found) > MAX_RUNS:
                raise DomainError(
                    422, 'too_many_runs', f'The filter matches more than {MAX_RUNS} runs; narrow it down first.'
                )
            if cursor is None:
                return found

    def _one(self, principal: Principal, action: str, run_id: str, key: str, correlation: str | None) -> dict:
        try:
            with Session(self.engine) as session:
                run, _ = run_reads.load_visible_run(session, run_id, principal)
        except DomainError as exc:
            return {'run_id': run_id, 'outcome': 'skipped', 'reason': exc.detail, 'error': exc.error}
        try:
            if action == 'stop':
                reason = stop_verdict(run)
                if reason:
                    return {'run_id': run_id, 'outcome': 'skipped', 'reason': reason}
                self.stop(principal, run_id)
                return {'run_id': run_id, 'outcome': 'done'}
            if action == 'approve':
                self.approve(principal, run_id)
                return {'run_id': run_id, 'outcome': 'done'}
            admitted = self.retry(principal, run_id, child_key(key, run_id), correlation)
            return {'run_id': run_id, 'outcome': 'done', 'new_run_id': admitted.run.id}
        except DomainError as exc:
            skipped = exc.error in SKIPPED_ERRORS
            return {
                'run_id': run_id,
                'outcome': 'skipped' if skipped else 'refused',
                'reason': exc.detail,
                'error': exc.error,
                'status': exc.status,
            }
