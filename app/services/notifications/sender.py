"""The sender: a periodic job on every server that POSTs due deliveries, signed (signature.py), and writes each
attempt (store.py). It runs apart from admission and the run engine: a slow or dead receiver delays only its own
deliveries. It wakes when a run ends (the change event reaches every server; the database claim lets one of them
send), when a retry falls due, and at least every RUNBOARD_NOTIFICATION_POLL_SECONDS."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from http import HTTPStatus

import httpx
from sqlalchemy import Engine, text

from app.config import Settings
from app.infra.db import session_scope
from app.infra.http import tls_context
from app.infra.secret_box import SecretBox, SecretUnreadable
from app.models import TERMINAL_STATUSES, utcnow
from app.models.vocabulary import AWAITING_APPROVAL_SQL
from app.models.webhook_url import url_origin
from app.services.notifications import outbox
from app.services.notifications import store as notify_store
from app.services.notifications.answers import EXCERPT_BYTES, Answer, answer_of
from app.services.notifications.fair_share import IN_FLIGHT_CAP, PER_RULE_IN_FLIGHT
from app.services.notifications.rules import after_attempt, retry_after_seconds
from app.services.notifications.signature import signature_header, signing_secrets
from app.services.notifications.store import AttemptResult, Claimed
from app.services.notifications.webhook_policy import TargetPolicy
from app.services.notifications.webhook_targets import TargetRefused, check_for_proxy, checked_target, policy_of
from app.services.scheduling.periodic import BURST_SETTLE_SECONDS, PeriodicJob

log = logging.getLogger(__name__)
ERROR_CHARS = 300
USER_AGENT = 'Runboard-Webhooks/1'
ANSWER_READ_SECONDS = 2.0  # at most this long for the body once the status came: a slow body never costs the status


# published by "redeliver all that gave up" (it queues, it sends nothing): wakes the sender of every server
DELIVERIES_QUEUED_EVENT = 'deliveries.queued'

SQL_ANY_AWAITING = text(f'SELECT 1 FROM run WHERE {AWAITING_APPROVAL_SQL} LIMIT 1')


def run_ended(event: dict) -> bool:
    """The events that wake the loop early: a run's end has written its deliveries, a run was written `delayed` (it
    may wait for an operator's approval, which is told), or deliveries were queued again in bulk."""
    if event.get('type') == DELIVERIES_QUEUED_EVENT:
        return True
    return event.get('type') == 'run' and event.get('status') in (*TERMINAL_STATUSES, 'delayed')


def lease_seconds(settings: Settings) -> float:
    """A claim outlives the attempt it covers (bounded by the timeout) with room to write its outcome."""
    return settings.notification_timeout_seconds * 2 + 30.0


def _clean(text: str, *urls: str) -> str:
    """An error for the log: one line, short, without the URL's path (a Slack webhook's credential)."""
    for url in urls:
        text = text.replace(url, url_origin(url))
    return ' '.join(text.split())[:ERROR_CHARS]


def answer_error(code: int) -> str | None:
    """A non-2xx answer in the log: its code and the standard phrase, never the receiver's body or reason text
    (what a receiver answers is not for everyone who reads the delivery log: operators read its excerpt apart)."""
    if 200 <= code < 300:
        return None
    try:
        return f'HTTP {code} {HTTPStatus(code).phrase}'
    except ValueError:
        return f'HTTP {code}'


def failure_error(exc: Exception, *urls: str) -> str:
    """A failed connection in words; protocol errors can quote the receiver's bytes, so only their kind."""
    if isinstance(exc, TargetRefused):
        return _clean(f'refused: {exc}')
    if isinstance(exc, OSError):  # the name did not resolve
        return _clean(f'could not resolve the host: {exc.strerror or exc}')
    if isinstance(exc, httpx.ConnectError):  # the system's or TLS's words
        return _clean(f'could not connect: {exc}', *urls)
    if isinstance(exc, httpx.TimeoutException):
        return f'timed out ({type(exc).__name__})'
    if isinstance(exc, httpx.ProtocolError):
        return f'the receiver broke the HTTP exchange ({type(exc).__name__})'
    return type(exc).__name__


async def read_answer(reply: httpx.Response, *, seconds: float = ANSWER_READ_SECONDS) -> Answer:
    """The first EXCERPT_BYTES of the answer's body as kept (answers.py), read for at most `seconds`; what the
    receiver does meanwhile (a body that stops coming, a broken connection) cuts the excerpt short, nothing more."""
    got = bytearray()
    more = False
    try:
        async with asyncio.timeout(seconds):
            async for chunk in reply.aiter_raw():  # as sent: a compressed body is unpacked, bounded, by answer_of
                got += chunk
                if len(got) > EXCERPT_BYTES:
                    more = True
                    break
    except (TimeoutError, httpx.HTTPError):
        more = True
    return answer_of(
        bytes(got[:EXCERPT_BYTES]),
        content_type=reply.headers.get('content-type'),
        charset=reply.charset_encoding,
        content_encoding=reply.headers.get('content-encoding'),
        more=more,
    )


async def post(claimed: Claimed, secrets: list[str], timeout: float, policy: TargetPolicy) -> AttemptResult:
    """One signed POST to the address the policy checked (webhook_targets.py); never raises for what the
    receiver or the network does. The answer's status decides; the start of its body is kept for operators."""
    body = claimed.payload.encode()
    headers = {
        'Content-Type': 'application/json',
        'Accept-Encoding': 'identity',  # only the start of the answer is read: no compressed body is asked for
        'User-Agent': USER_AGENT,
        'X-Runboard-Event': claimed.event_type,
        'X-Runboard-Delivery': claimed.id,
        'X-Runboard-Signature': signature_header(secrets, int(time.time()), body),
    }
    started = time.monotonic()
    target_url = claimed.url
    status: int | None = None  # once the answer's status came, a timeout no longer makes it "no answer"
    retry_after: float | None = None

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        # no proxy from the environment (it would connect instead of us), no redirects followed
        async with (
            httpx.AsyncClient(
                timeout=timeout, follow_redirects=False, trust_env=False, verify=tls_context(), proxy=policy.proxy
            ) as client,
            asyncio.timeout(timeout),
        ):
            attempts: list[tuple[str, dict]]
            if policy.proxy:  # checked here, sent by name: the egress proxy connects (webhook_targets.py)
                await asyncio.to_thread(check_for_proxy, claimed.url, policy)
                attempts = [(claimed.url, {})]
            else:
                target = await asyncio.to_thread(checked_target, claimed.url, policy)
                headers['Host'] = target.host_header
                attempts = [(url, target.extensions) for url in target.urls]
            for number, (target_url, extensions) in enumerate(attempts, 1):
                request = client.build_request('POST', target_url, content=body, headers=headers)
                request.extensions.update(extensions)
                try:
                    reply = await client.send(request, stream=True)
                except httpx.ConnectError:
                    if number == len(attempts):
                        raise
                    continue  # the name's next address (IPv6 first, say, with a listener on IPv4 only)
                break
            status = reply.status_code
            retry_after = retry_after_seconds(reply.headers.get('retry-after'), utcnow())
            try:
                answer = await read_answer(reply)
            finally:
                await reply.aclose()
        return AttemptResult(status, answer_error(status), took(), retry_after, answer)
    except TimeoutError:
        if status is not None:  # the time ran out while the body came: the status stands, the body is not kept
            return AttemptResult(status, answer_error(status), took(), retry_after)
        return AttemptResult(None, f'no answer within {timeout:g} s', took())
    except Exception as exc:  # noqa: BLE001 - whatever the URL or the network does is this attempt's failure
        if status is not None:  # the connection broke after the status came (closing it): the status stands
            return AttemptResult(status, answer_error(status), took(), retry_after)
        return AttemptResult(None, failure_error(exc, claimed.url, target_url), took())


class Sender:
    """Attempts one claimed delivery and records it (used by the loop, and by Test and Redeliver directly)."""

    def __init__(self, *, engine: Engine, settings: Settings, secrets: SecretBox, instance_id: str) -> None:
        self.engine, self.settings, self.secrets, self.me = engine, settings, secrets, instance_id
        self.in_flight: set[str] = set()  # claimed here and not yet recorded
        self._sending: set[asyncio.Task[AttemptResult]] = set()  # the loop's attempts under way
        self._job: PeriodicJob | None = None

    async def attempt(self, claimed: Claimed) -> AttemptResult:
        self.in_flight.add(claimed.id)
        try:
            return await self._attempt(claimed)
        finally:
            self.in_flight.discard(claimed.id)

    async def _attempt(self, claimed: Claimed) -> AttemptResult:
        in_use = signing_secrets(
            claimed.secret_encrypted, claimed.previous_secret_encrypted, claimed.previous_secret_until, now=utcnow()
        )
        try:
            secrets = [self.secrets.decrypt(encrypted) for encrypted in in_use]
        except SecretUnreadable as exc:
            result = AttemptResult(None, str(exc)[:ERROR_CHARS], 0)
        else:
            timeout = self.settings.notification_timeout_seconds
            result = await post(claimed, secrets, timeout, policy_of(self.settings))
        verdict = after_attempt(
            status_code=result.status_code,
            attempt_in_round=claimed.attempt_in_round,
            max_attempts=self.settings.notification_max_attempts,
            schedule=self.settings.notification_backoff_seconds,
            retry_after=result.retry_after,
        )
        if not await asyncio.to_thread(notify_store.record_attempt, self.engine, self.me, claimed, result, verdict):
            log.warning('delivery %s: its claim ran out while it was sent; another server took it over', claimed.id)
            return result
        log.info(
            'delivery %s (%s) to %s: %s, attempt %d -> %s',
            claimed.id,
            claimed.event_type,
            url_origin(claimed.url),
            result.status_code or result.error,
            claimed.attempts + 1,
            verdict.status,
        )
        return result

    async def send_due(self) -> int:
        """One pass: claim what is due (while fewer than IN_FLIGHT_CAP attempts are under way) and start each
        attempt on its own, so that a receiver that does not answer holds up only its own delivery, never the
        next pass. An attempt that ends wakes the job (its retry may fall due before the next tick). Returns how
        many were claimed."""
        room = IN_FLIGHT_CAP - len(self._sending)
        if room <= 0:
            return 0
        claimed = await asyncio.to_thread(
            notify_store.claim_due,
            self.engine,
            self.me,
            base_url=self.settings.effective_public_url,
            limit=room,
            per_rule=PER_RULE_IN_FLIGHT,
            lease=lease_seconds(self.settings),
        )
        loop = asyncio.get_running_loop()
        for one in claimed:
            task = loop.create_task(self.attempt(one), name=f'delivery {one.id}')
            self._sending.add(task)
            task.add_done_callback(self._attempt_ended)
        return len(claimed)

    def _attempt_ended(self, task: asyncio.Task[AttemptResult]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error('a delivery attempt failed to record its outcome: %r', exc)
        if self._job is not None:
            self._job.wake()

    async def send_now(self, delivery_id: str) -> bool:
        """Attempt this delivery now, unless another server is sending it this moment. True when attempted."""
        claimed = await asyncio.to_thread(
            notify_store.claim_one,
            self.engine,
            self.me,
            delivery_id,
            base_url=self.settings.effective_public_url,
            lease=lease_seconds(self.settings),
        )
        if claimed is None:
            return False
        await self.attempt(claimed)
        return True

    async def send_pending(self) -> timedelta:
        """One pass of the sender job: send what is due until nothing is; returns when the soonest retry falls due.
        A read first: an idle server takes no write lock (SQLite) to find nothing due."""
        poll = self.settings.notification_poll_seconds
        await asyncio.to_thread(self._record_awaiting)
        while (wait := await asyncio.to_thread(self._seconds_until_due, poll)) <= 0:
            if len(self._sending) >= IN_FLIGHT_CAP:
                return timedelta(seconds=poll)  # the next attempt that ends wakes the job
            if not await self.send_due():
                return timedelta(seconds=0.05)  # another server took them first
        return timedelta(seconds=wait)

    def _seconds_until_due(self, cap: float) -> float:
        return notify_store.seconds_until_due(self.engine, self.me, per_rule=PER_RULE_IN_FLIGHT, cap=cap)

    def _record_awaiting(self) -> None:
        """The runs that began waiting for an operator's approval (in the last day) get their deliveries."""
        with self.engine.connect() as conn:
            if not conn.execute(SQL_ANY_AWAITING).first():  # most passes: nothing waits, and nothing is written
                return
        with session_scope(self.engine) as session:
            outbox.record_awaiting_approvals(session.connection(), utcnow() - timedelta(days=1))

    def release_in_flight(self) -> None:
        """Cut off mid-send: the next server may try them now, not after the lease."""
        for task in list(self._sending):
            task.cancel()
        if self.in_flight:
            with contextlib.suppress(Exception):
                notify_store.release_claims(self.engine, self.me, sorted(self.in_flight))

    def job(self) -> PeriodicJob:
        """The sender job: at start, when a run ends (its deliveries were written with its end), when a retry
        falls due, and at least every RUNBOARD_NOTIFICATION_POLL_SECONDS."""
        poll = self.settings.notification_poll_seconds
        self._job = PeriodicJob(
            'notifications',
            poll,
            self.send_pending,
            at_start=True,
            wakes_on=run_ended,
            on_stop=self.release_in_flight,
            settle=BURST_SETTLE_SECONDS,
        )
        return self._job
