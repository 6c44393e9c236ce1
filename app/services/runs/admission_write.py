"""One admission's write, inside a write transaction: claim the idempotency key (or replay the run it names),
then take the repository lock and the quota, and write the run under the repository rules. The key comes
before the lock, so a replay never waits for another admission to the same repository. The single
trigger (RunAdmitter) runs one per transaction; a matrix batch's all-or-nothing pass runs all of its children
in one (services/runs/batches.py), so they commit together or not at all.

On PostgreSQL the single trigger takes two round trips (infra/pg_trips.py, admit_in_two_trips): BEGIN, the
claim with the lock, the repository's facts and the key's row go together; the run's write and COMMIT go
together. The steps and the rules are the same as admit_within's, which the rare paths fall back on."""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

from app.core import ids
from app.core.errors import DomainError
from app.infra.pg_trips import Statement, Trips
from app.models import Project, RunPublic, utcnow
from app.services.identity.accounts import Principal
from app.services.runs.idempotency import key_verdict, run_from_key_row
from app.services.runs.ports import Quota, RateLimiter
from app.services.runs.writer import RunSpec, RunWriter, facts_params, lock_id

if TYPE_CHECKING:
    from app.services.runs.admit import RunAdmitter

T = TypeVar('T')


@dataclass
class Admitted:
    run: RunPublic
    replayed: bool
    idempotency_key: str
    quota: Quota | None = None  # of the admitting request


class Conflict(Exception):
    """A unique index refused the write (another request won a race): decide again with fresh facts."""


@dataclass(frozen=True)
class Request:
    """What one admission admits: a run of `spec` in `project` for `principal`, under idempotency `key` whose
    request body has fingerprint `fp`."""

    principal: Principal
    project: Project
    spec: RunSpec
    key: str
    fp: str
    correlation_id: str | None


def admit_within(admitter: RunAdmitter, cursor: Any, request: Request, *, taken: list[str]) -> Admitted:
    """The admission's write; the quota entry it takes is added to `taken` (the caller gives those back when
    its transaction fails). Raises DomainError for a refusal, Conflict when the key was taken meanwhile."""
    writer, db, sql = admitter.writer, admitter.db, admitter.writer.sql
    rl_key = admitter.rate_key(request.principal)
    claim, params = key_claim(admitter, request.principal, request.key, request.fp)
    if not claim_key(writer, cursor, claim, request.project.repository_key):
        cursor.execute(sql['SQL_KEY_AND_RUN'], params)
        row = cursor.fetchone()
        if key_verdict(db, row, request.fp) == 'replay':
            return Admitted(run_from_key_row(row), True, request.key, admitter.limiter.peek(rl_key))
        claim_expired_key(writer, cursor, claim, params, request.project.repository_key)
    quota = take_quota(admitter, rl_key, request.key, request.spec, taken)
    run = writer.insert(cursor, request.principal, request.project, request.spec, **write_fields(request, claim))
    return Admitted(run, False, request.key, quota)


def write_fields(request: Request, claim: dict[str, Any]) -> dict[str, Any]:
    """RunWriter's keyword arguments for a single admission's run."""
    return dict(
        run_id=claim['run'],
        now=claim['at'],
        key=request.key,
        fingerprint=request.fp,
        correlation_id=request.correlation_id,
        bypass_concurrency=False,
    )


def claim_expired_key(
    writer: RunWriter, cursor: Any, claim: dict[str, Any], params: dict[str, str], repository_key: str
) -> None:
    """The key is taken but not replayable: delete it if it has expired, and claim it again (Conflict when
    another request took it meanwhile)."""
    cursor.execute(writer.sql['SQL_KEY_DELETE_EXPIRED'], {**params, 'now': writer.db.ts(claim['at'])})
    if not claim_key(writer, cursor, claim, repository_key):  # the key is free again
        raise Conflict()  # taken meanwhile: decide again


def claim_key(writer: RunWriter, cursor: Any, claim: dict[str, Any], repository_key: str) -> bool:
    """Insert the idempotency key row unless the key is taken; once claimed, the repository is locked too
    (PostgreSQL's advisory lock, in the same statement; SQLite's write lock is already held)."""
    if writer.db.sqlite:
        cursor.execute(writer.sql['SQL_KEY_INSERT'], claim)
    else:
        cursor.execute(writer.sql['SQL_KEY_CLAIM_AND_LOCK'], {**claim, 'lock': lock_id(repository_key)})
    return bool(cursor.rowcount == 1)


@dataclass(frozen=True)
class Trip:
    """Step: these statements in one round trip (infra/pg_trips.py), with COMMIT after them when `commit`."""

    statements: Sequence[Statement]
    commit: bool = False


@dataclass(frozen=True)
class Acquire:
    """Step: take `member`'s quota entry under `key` (the rate limiter's acquire)."""

    key: str
    member: str


@dataclass(frozen=True)
class Peek:
    """Step: read `key`'s quota without taking any."""

    key: str


Step = Trip | Acquire | Peek
Steps = Generator[Step, Any, Admitted]


def two_trip_steps(admitter: RunAdmitter, cursor: Any, request: Request, *, taken: list[str]) -> Steps:
    """admit_within on PostgreSQL in two round trips, as the steps it needs: the first trip claims the key and,
    when it did, locks the repository and reads its facts after the lock; when it did not, the same trip read the
    key's row (a replay or a mismatch). The second writes and commits. Driven by admit_in_two_trips (a thread)
    and by loop_admission.py (the event loop, with a `cursor` that refuses: the rare paths below read through it
    one statement at a time, an expired key and the reads at the concurrency limit, and go to a thread)."""
    writer, db, sql = admitter.writer, admitter.db, admitter.writer.sql
    project, spec = request.project, request.spec
    rl_key = admitter.rate_key(request.principal)
    claim, params = key_claim(admitter, request.principal, request.key, request.fp)
    claimed, facts, other = yield Trip(
        [
            (sql['SQL_KEY_CLAIM_AND_LOCK'], {**claim, 'lock': lock_id(project.repository_key)}),
            (sql['SQL_REPOSITORY_FACTS'], facts_params(project, spec.branch_name, spec.batch_id)),
            (sql['SQL_OTHER_KEY_AND_RUN'], {**params, 'run': claim['run']}),
        ]
    )
    facts_row = facts.rows[0] if claimed.rowcount == 1 else None  # read after the lock only when claimed
    if facts_row is None:
        row = other.rows[0] if other.rows else None
        if row is not None and key_verdict(db, row, request.fp) == 'replay':
            return Admitted(run_from_key_row(row), True, request.key, (yield Peek(rl_key)))
        claim_expired_key(writer, cursor, claim, params, project.repository_key)
    quota = yield from quota_steps(rl_key, request.key, spec, taken)
    statements, run = writer.prepare(
        cursor, request.principal, project, spec, **write_fields(request, claim), facts=facts_row
    )
    yield Trip(statements, commit=True)
    return Admitted(run, False, request.key, quota)


def admit_in_two_trips(admitter: RunAdmitter, trips: Trips, request: Request, *, taken: list[str]) -> Admitted:
    """two_trip_steps in this thread."""
    steps = two_trip_steps(admitter, trips.cursor, request, taken=taken)
    return drive(steps, lambda step: perform(step, trips, admitter.limiter))


def perform(step: Step, trips: Trips | None, limiter: RateLimiter) -> Any:
    if isinstance(step, Trip):
        assert trips is not None
        return trips.send(step.statements, commit=step.commit)
    if isinstance(step, Acquire):
        return limiter.acquire(step.key, step.member)
    return limiter.peek(step.key)


def drive(steps: Generator[Step, Any, T], perform_step: Callable[[Step], Any]) -> T:
    """Runs the steps to their result, each one's outcome sent back in."""
    try:
        step = next(steps)
        while True:
            step = steps.send(perform_step(step))
    except StopIteration as done:
        return cast(T, done.value)


def key_claim(admitter: RunAdmitter, principal: Principal, key: str, fp: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The key row's claim (naming a new run id, made now) and the key's lookup parameters. `at` is the moment
    itself (the claim's `now` is its driver value); statements ignore parameters they do not name."""
    db, now = admitter.db, utcnow()
    params = {'u': principal.user_id, 'k': key}
    claim = {
        **params,
        'fp': fp,
        'run': ids.new_run_id(),
        'now': db.ts(now),
        'expires': db.ts(now + timedelta(seconds=admitter.settings.idempotency_ttl_seconds)),
        'at': now,
    }
    return claim, params


def take_quota(admitter: RunAdmitter, rl_key: str, key: str, spec: RunSpec, taken: list[str]) -> Quota:
    return drive(quota_steps(rl_key, key, spec, taken), lambda step: perform(step, None, admitter.limiter))


def quota_steps(rl_key: str, key: str, spec: RunSpec, taken: list[str]) -> Generator[Step, Quota, Quota]:
    """The quota entry of a run that starts now (added to `taken`), or 429. A delayed run takes its quota when
    it is due (services/scheduling/delayed_runs.py), not now: it only reads it."""
    if spec.run_at is not None:
        return (yield Peek(rl_key))
    quota = yield Acquire(rl_key, key)
    if not quota.allowed:
        raise rate_limited(quota)
    taken.append(key)
    return quota


def rate_limited(quota: Quota) -> DomainError:
    retry = quota.retry_after_seconds
    return DomainError(
        429,
        'rate_limited',
        f'Run limit reached: {quota.limit} runs per {quota.window_seconds} s. Retry in {retry} s.',
        retry_after_seconds=retry,
        headers={'Retry-After': str(retry)},  # the API adds RateLimit-Policy / RateLimit
    )
