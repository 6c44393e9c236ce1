"""The team-mode trigger (PostgreSQL) on the event loop, without a thread.

In a thread, the admission's CPU was about a millisecond, most of it not its own work: the hand-over to the
thread and back, the threads' turns at the interpreter lock, SQLAlchemy's pool and the synchronous drivers'
layers (bench/team.py). Here the same steps (admission_write.two_trip_steps: the rules are written once) run on
the loop: the request is checked in no-wait mode (infra/no_wait.py: a project or branch the caches do not
hold needs a thread), the two trips go on psycopg's AsyncConnection (infra/pg_async.py), the rate limiter and
the bus on redis-py's asyncio connections.

Whatever the loop does not do, the thread does, from the start: `trigger` then returns None, having had no
effect (its transaction rolled back, its quota entry given back). That covers the rare paths: a cache miss, an
expired idempotency key, the reads at the concurrency limit, a race lost to another request (the thread decides
again), a delayed trigger resent after its time.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, NoReturn

import psycopg

from app.infra import no_wait
from app.infra.pg_async import AsyncTransactions, AsyncTrips
from app.services.identity.accounts import Principal
from app.services.runs import admission
from app.services.runs.admission_write import Acquire, Admitted, Conflict, Request, Steps, Trip, two_trip_steps
from app.services.runs.idempotency import bad_data
from app.services.runs.ports import RateLimiter
from app.services.runs.writer import StaleProject, announcement

if TYPE_CHECKING:
    from app.services.runs.admit import RunAdmitter, TriggerPlan


class LoopAdmission:
    def __init__(self, admitter: RunAdmitter) -> None:
        self.admitter = admitter
        self.transactions = AsyncTransactions(admitter.engine)
        db = admitter.db
        self._thread_decides = (no_wait.WouldWait, Conflict, StaleProject, *db.integrity_errors, *db.retry_errors)

    async def trigger(
        self, principal: Principal, *, key: str | None, correlation_id: str | None, **choices: Any
    ) -> Admitted | None:
        """RunAdmitter.trigger's admission, or None when a thread is to admit it (nothing was done)."""
        admitter = self.admitter
        attempt = no_wait.attempt(lambda: admitter.plan_trigger(principal, **choices))
        if not attempt.done:
            return None
        plan = attempt.result
        assert plan is not None
        if plan.refusal is not None:  # refused unless it replays: RunAdmitter reads the key first
            return None
        key = key or str(uuid.uuid4())
        taken: list[str] = []  # the quota entries this admission took: given back when it fails
        try:
            admitted = await self._admit(principal, plan, key, correlation_id, taken)
        except BaseException as exc:
            for member in taken:
                await admitter.limiter.release_async(admitter.rate_key(principal), member)
            if isinstance(exc, self._thread_decides):
                return None
            if isinstance(exc, admitter.db.data_errors):
                raise bad_data() from exc
            raise
        if not admitted.replayed:
            await admitter.bus.publish_many_async(announcement(admitted.run, plan.project))
        return admitted

    async def _admit(
        self, principal: Principal, plan: TriggerPlan, key: str, correlation_id: str | None, taken: list[str]
    ) -> Admitted:
        request = Request(principal, plan.project, plan.spec, key, admission.fingerprint(plan.payload), correlation_id)
        for fresh in (False, True):
            steps = two_trip_steps(self.admitter, REFUSING_CURSOR, request, taken=taken)
            trips: AsyncTrips | None = None
            try:
                async with self.transactions.transaction(fresh=fresh) as trips:
                    return await drive_async(steps, trips, self.admitter.limiter)
            except psycopg.OperationalError:
                if fresh or trips is None or not trips.retryable:
                    raise
        raise AssertionError('unreachable')

    async def close(self) -> None:
        await self.transactions.close()


async def drive_async(steps: Steps, trips: AsyncTrips, limiter: RateLimiter) -> Admitted:
    """admission_write.drive on the loop."""
    try:
        step = next(steps)
        while True:
            if isinstance(step, Trip):
                outcome: Any = await trips.send(step.statements, commit=step.commit)
            elif isinstance(step, Acquire):
                outcome = await limiter.acquire_async(step.key, step.member)
            else:
                outcome = await limiter.peek_async(step.key)
            step = steps.send(outcome)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


class _RefusingCursor:
    """The cursor the steps' rare paths read through one statement at a time: on the loop, they need a thread."""

    def execute(self, *_: object, **__: object) -> NoReturn:
        raise no_wait.WouldWait()


REFUSING_CURSOR = _RefusingCursor()
