"""Pure admission decisions: may this run start, and if not, why and when to come back. No I/O."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class Refusal:
    status: int
    error: str
    detail: str
    field: str | None = None
    blocking_runs: tuple[str, ...] = ()
    retry_after: int | None = None
    extra: dict = dataclasses.field(default_factory=dict)


def fingerprint(payload: dict) -> str:
    """Hash of the canonical body without the idempotency key."""
    body = {k: v for k, v in payload.items() if k != 'x_idempotency_key' and v is not None}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(',', ':')).encode()).hexdigest()


def validate_choice(value: str, allowed: list[str], field_name: str) -> Refusal | None:
    if value in allowed:
        return None
    return Refusal(
        422,
        'validation',
        f'{field_name} {value!r} is not allowed for this project; choose one of: {", ".join(allowed)}',
        field=field_name,
    )


def validate_run_request(
    *,
    depth_level: str,
    target_framework: str,
    branch: str,
    allowed_depths: list[str],
    allowed_frameworks: list[str],
    branch_exists: bool,
) -> Refusal | None:
    return (
        validate_choice(depth_level, allowed_depths, 'depth_level')
        or validate_choice(target_framework, allowed_frameworks, 'target_framework')
        or (
            None
            if branch_exists
            else Refusal(422, 'validation', f'branch {branch!r} does not exist in the repository', field='branch')
        )
    )


KeyVerdict = Literal['new', 'replay', 'mismatch', 'in_flight']


def idempotency_verdict(
    *,
    stored_fingerprint: str | None,
    stored_run_id: str | None,
    expires_at: datetime | None,
    fingerprint_now: str,
    now: datetime,
) -> KeyVerdict:
    """What to do with a request whose key may have been seen before."""
    if stored_fingerprint is None or expires_at is None or expires_at <= now:
        return 'new'
    if stored_fingerprint != fingerprint_now:
        return 'mismatch'
    return 'replay' if stored_run_id else 'in_flight'


RepositoryVerdict = Literal['concurrency_limit', 'pr_lock'] | None


def repository_verdict(
    *,
    slotted_active: int,
    max_concurrent: int,
    branch_holder: str | None,
    bypass_concurrency: bool = False,
    batch_id: str | None = None,
    holder_batch_id: str | None = None,
) -> RepositoryVerdict:
    """Concurrency limit first, then the PR lock (one active run per repository + branch).

    slotted_active: active runs holding a concurrency slot on the repository (AFK runs that bypass the
    limit hold none); branch_holder: an active run on the requested branch, if any (one outside the
    requesting run's batch whenever there is one), and holder_batch_id its batch.

    Siblings: the children of one matrix batch are one trigger, so a child is not locked out of its branch
    by its own siblings; it still needs a concurrency slot, and every other trigger sees the branch busy.
    """
    if not bypass_concurrency and slotted_active >= max_concurrent:
        return 'concurrency_limit'
    if branch_holder is not None and not (batch_id is not None and holder_batch_id == batch_id):
        return 'pr_lock'
    return None


def concurrency_refusal(max_concurrent: int, blocking_runs: tuple[str, ...]) -> Refusal:
    return Refusal(
        409,
        'concurrency_limit',
        f'This repository is at maximum concurrency ({max_concurrent} active). '
        f'Wait for an active run to complete and retry.',
        blocking_runs=blocking_runs,
    )


def pr_lock_refusal(branch: str, holder: str) -> Refusal:
    return Refusal(
        409,
        'pr_lock',
        f'Branch {branch!r} is locked by active run {holder}.',
        blocking_runs=(holder,),
        extra={'holder_run_id': holder},
    )


def free_slot(used: set[int], max_concurrent: int) -> int | None:
    """The lowest slot number not held by an active run; None when all are held."""
    for slot in range(max_concurrent):
        if slot not in used:
            return slot
    return None


def retry_verdict(status: str, retryable: tuple[str, ...]) -> Refusal | None:
    if status in retryable:
        return None
    return Refusal(409, 'not_retryable', f'A {status} run cannot be retried; only {", ".join(retryable)} runs can.')
