"""The admission policy: may this run be admitted, and if not, why and when to come back.

Read top to bottom. Before the transaction, the request is checked against its project (services/runs/admit.py,
`validate_request`: an allowed depth and framework, a usable repository, an existing branch; a delayed run's time
still ahead). Then, inside one write transaction, `admit` runs the steps in order; the first that decides ends
the admission, and a refusal rolls back everything the earlier steps did (the quota entry is given back too):

    1. idempotency   the key is claimed, or the run it names is replayed (same body), or refused
                     (another body: 422 idempotency_key_mismatch; still being admitted: 409 idempotency_in_flight);
                     an expired key is deleted and claimed again
    2. rate limit    the caller's quota entry is taken (429 rate_limited); a delayed run only reads it
    3. repository    the concurrency limit first (409 concurrency_limit), then the PR lock, one active run per
                     repository + branch (409 pr_lock); a delayed run holds neither
    4. write         the run `queued` (or `delayed`) holding its slot, its first event, its audit entry

The steps ask the transaction (`Transaction`, answered on the database by services/runs/writer.py) and decide
with the pure functions below them; tests/unit/test_admission.py and test_admission_policy.py table both. The
database decides the races: the key's primary key, the slot and PR-lock partial unique indexes; the repository
is locked once the key is claimed (PostgreSQL's advisory lock; SQLite's write lock is the whole database's), so
the facts step 3 reads stay true until the commit.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from app.core.errors import DomainError, Refusal
from app.models.schemas import NAME_RE  # the rule a project's variable names follow
from app.services.runs.ratelimit import Quota

__all__ = ['Refusal']


# ------------------------------------------------------------------ the steps, in order
@dataclass(frozen=True)
class Ask:
    """What the steps need to know of the request."""

    fingerprint: str  # of the request body, without the key
    branch: str
    delayed: bool = False  # asked for later: no quota taken now, no slot, no PR lock
    batch_id: str | None = None  # a matrix batch's child: its siblings do not lock it out of the branch
    bypass_concurrency: bool = False


@dataclass(frozen=True)
class StoredKey:
    """The idempotency key's row as another request left it, and the run it names (None: not written yet)."""

    fingerprint: str
    run_id: str | None
    expires_at: datetime
    run: Any = None  # RunPublic


@dataclass(frozen=True)
class RepositoryFacts:
    """Read after the repository lock: is the project still there (and on this repository), the smallest limit
    of the projects sharing the repository, the highest slot held, and who holds the branch (and its batch)."""

    project_ok: bool
    max_concurrent: int
    max_slot: int | None
    branch_holder: str | None
    holder_batch_id: str | None


class Transaction(Protocol):
    """What the steps ask of the admitting transaction."""

    def claim_key(self) -> bool:
        """Claim the key (and lock the repository); False when another request holds it."""

    def stored_key(self) -> StoredKey | None: ...

    def claim_expired_key(self) -> bool:
        """Delete the key if it has expired and claim it again; False when it is (again) someone else's."""

    def take_quota(self) -> Quota: ...

    def peek_quota(self) -> Quota: ...

    def repository(self) -> RepositoryFacts: ...

    def slotted_count(self, limit: int) -> int:
        """Active runs holding a slot on the repository, counted up to `limit`."""

    def slotted_ids(self) -> tuple[str, ...]: ...

    def held_slots(self) -> set[int]: ...

    def write(self, slot: int | None) -> Any:
        """The run, its first event and its audit entry; returns the run (RunPublic)."""


@dataclass(frozen=True)
class Admission:
    run: Any  # RunPublic
    replayed: bool
    quota: Quota | None


class StaleProject(Exception):
    """The project changed since it was read (deleted, or moved to another repository): read it again."""


class Conflict(Exception):
    """Another request won a race the database decided (a key claimed meanwhile): decide again."""


def admit(tx: Transaction, ask: Ask, now: datetime) -> Admission:
    """The steps, in order. Raises DomainError for a refusal, StaleProject or Conflict to start again."""
    replay = idempotency(tx, ask, now)
    if replay is not None:
        return Admission(replay, True, tx.peek_quota())
    quota = rate_limit(tx, ask)
    slot = repository(tx, ask)
    return Admission(tx.write(slot), False, quota)


def idempotency(tx: Transaction, ask: Ask, now: datetime) -> Any:
    """Step 1: None when the key is this request's now; the run to replay when the same body made one."""
    if tx.claim_key():
        return None
    replay = replay_of(tx.stored_key(), ask.fingerprint, now)
    if replay is not None:
        return replay
    if not tx.claim_expired_key():  # expired (or gone since): free again, unless another request took it
        raise Conflict()
    return None


def replay_of(stored: StoredKey | None, fingerprint_now: str, now: datetime) -> Any:
    """The run a stored key answers with; None when the key is free (never seen, or expired); the refusal when
    it was used with another body, or its request is still being admitted."""
    verdict = idempotency_verdict(
        stored_fingerprint=stored.fingerprint if stored else None,
        stored_run_id=stored.run_id if stored else None,
        expires_at=stored.expires_at if stored else None,
        fingerprint_now=fingerprint_now,
        now=now,
    )
    if verdict == 'mismatch':
        raise DomainError(
            422, 'idempotency_key_mismatch', 'This Idempotency-Key was already used with a different request body.'
        )
    if verdict == 'in_flight':
        raise DomainError(
            409,
            'idempotency_in_flight',
            'A request with this Idempotency-Key is still being processed; retry shortly.',
            headers={'Retry-After': '1'},
        )
    return stored.run if verdict == 'replay' and stored is not None else None


def rate_limit(tx: Transaction, ask: Ask) -> Quota:
    """Step 2: the caller's quota entry (a delayed run takes it when it is due: scheduling/delayed_runs.py)."""
    if ask.delayed:
        return tx.peek_quota()
    quota = tx.take_quota()
    if not quota.allowed:
        raise rate_limited(quota)
    return quota


def repository(tx: Transaction, ask: Ask) -> int | None:
    """Step 3: the concurrency slot the run holds (None: it holds none), or the refusal."""
    if ask.delayed:  # holds nothing until it is due
        return None
    return repository_rules(tx, ask.branch, bypass_concurrency=ask.bypass_concurrency, batch_id=ask.batch_id)


def repository_rules(tx: Any, branch: str, *, bypass_concurrency: bool, batch_id: str | None) -> int | None:
    """Step 3 on its own, for a run admitted without key or quota (the AFK loop, a delayed run when due); `tx`
    answers Transaction's repository questions."""
    facts = tx.repository()
    if not facts.project_ok:
        raise StaleProject()
    limit, max_slot = facts.max_concurrent, facts.max_slot
    # slots are distinct, so at most max_slot + 1 are held: counted only when that reaches the limit (and matters)
    if bypass_concurrency or max_slot is None:
        slotted = 0
    else:
        slotted = max_slot + 1 if max_slot + 1 < limit else tx.slotted_count(limit)
    verdict = repository_verdict(
        slotted_active=slotted,
        max_concurrent=limit,
        branch_holder=facts.branch_holder,
        bypass_concurrency=bypass_concurrency,
        batch_id=batch_id,
        holder_batch_id=facts.holder_batch_id,
    )
    if verdict == 'concurrency_limit':
        raise DomainError.from_refusal(concurrency_refusal(limit, tx.slotted_ids()))
    if verdict == 'pr_lock':
        assert facts.branch_holder is not None
        raise DomainError.from_refusal(pr_lock_refusal(branch, facts.branch_holder))
    if bypass_concurrency:
        return None
    slot = 0 if max_slot is None else max_slot + 1  # above every held slot: free by definition
    if slot >= limit:  # holes below: the lowest free one
        slot = free_slot(tx.held_slots(), limit)
    return slot


def quota_words(quota: Quota) -> str:
    """'1 run per 10 s', '3 runs per 60 s'."""
    return f'{quota.limit} run{"" if quota.limit == 1 else "s"} per {quota.window_seconds} s'


def rate_limited(quota: Quota) -> DomainError:
    retry = quota.retry_after_seconds
    return DomainError(
        429,
        'rate_limited',
        f'Run limit reached: {quota_words(quota)}. Retry in {retry} s.',
        retry_after_seconds=retry,
        headers={'Retry-After': str(retry)},  # the API adds RateLimit-Policy / RateLimit
    )


# ------------------------------------------------------------------ the pure decisions the steps use
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


MAX_RUN_VARIABLES = 50
MAX_RUN_VARIABLE_CHARS = 10_000


def validate_variables(variables: dict[str, str]) -> Refusal | None:
    """A trigger's own variables (names as a project's variables take; RUNBOARD_* are the run's facts)."""

    def refused(why: str) -> Refusal:
        return Refusal(422, 'validation', f'variables: {why}', field='variables')

    if len(variables) > MAX_RUN_VARIABLES:
        return refused(f'at most {MAX_RUN_VARIABLES} a run, not {len(variables)}')
    for name, value in variables.items():
        if not re.fullmatch(NAME_RE, name):
            return refused(f'{name!r} is not a name: letters, digits and underscores, not starting with a digit')
        if name.upper().startswith('RUNBOARD_'):
            return refused(f"{name} is not yours to set: RUNBOARD_* names are the run's own facts")
        if '\x00' in value:
            return refused(f'the value of {name} holds a NUL character')
        if len(value) > MAX_RUN_VARIABLE_CHARS:
            return refused(f'the value of {name} is longer than {MAX_RUN_VARIABLE_CHARS:,} characters')
    return None


def own_variables_refusal(*, branch: str, protected: bool, is_operator: bool) -> Refusal | None:
    """A run's own variables (over the project's) on a protected branch are an operator's to set, as GitLab keeps
    pipeline variables to maintainers: that run is given the protected variables and secrets, and a variable such
    as BASH_ENV, LD_PRELOAD or NODE_OPTIONS would run a builder's code beside them."""
    if is_operator or not protected:
        return None
    return Refusal(
        403,
        'forbidden',
        f"Only operators set a run's own variables on protected branch {branch!r}: its protected variables and "
        'secrets are given to it. Set project variables instead, or run on another branch.',
        field='variables',
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
