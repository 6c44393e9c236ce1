"""Follow a run to its end: read its timeline with GET /runs/{id}/events?after=, woken promptly by the
server-sent change stream (GET /events?run=ID), with a slow poll as the fallback when the stream is down. A server
whose live updates are paused (503 live_updates_paused: its event listener lost Redis) is said once, and that they
resumed once the stream opens again; the poll goes on reading the run meanwhile. The runs of a matrix batch are
followed alike to their ends (follow_batch_runs): the batch read again on each status change of one of them
(GET /events?project=ID) or at the poll."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from app.cli.policy import backoff_delay, is_terminal, is_transient
from app.client import ApiError, RunboardClient
from app.state.live_pause import paused_since

PAGE = 1000
POLL_SECONDS = 2.0  # the fallback: look again even when no change event arrived
GIVE_UP_SECONDS = 120.0  # consecutive seconds without reaching the server before following gives up


@contextlib.asynccontextmanager
async def _woken_on_changes(
    client: RunboardClient,
    *,
    run: str | None = None,
    project: str | None = None,
    wanted: Callable[[dict], bool] = lambda _event: True,
    on_paused: Callable[[datetime], None] | None = None,
    on_resumed: Callable[[], None] | None = None,
) -> AsyncIterator[asyncio.Event]:
    """An event set by `_wake_on_changes` while the block runs; its watcher ends with the block."""
    wake = asyncio.Event()
    watcher = asyncio.create_task(
        _wake_on_changes(
            client, wake, run=run, project=project, wanted=wanted, on_paused=on_paused, on_resumed=on_resumed
        )
    )
    try:
        yield wake
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher


async def _woken_or_due(wake: asyncio.Event) -> None:
    """Until a change woke the follower or the next poll is due, whichever comes first."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(wake.wait(), timeout=POLL_SECONDS)
    wake.clear()


async def _wake_on_changes(
    client: RunboardClient,
    wake: asyncio.Event,
    *,
    run: str | None = None,
    project: str | None = None,
    wanted: Callable[[dict], bool] = lambda _event: True,
    on_paused: Callable[[datetime], None] | None = None,
    on_resumed: Callable[[], None] | None = None,
) -> None:
    """Set `wake` on every `wanted` change event of the run's (or the project's) stream; reconnect the stream with
    backoff when it drops, and when the server says its live updates are paused, after the Retry-After it gives
    (on_paused once, then on_resumed)."""
    attempt = 0
    paused = False

    def opened() -> None:
        nonlocal paused
        if paused:
            paused = False
            wake.set()  # read now what changed since the last poll
            if on_resumed:
                on_resumed()

    while True:
        try:
            async for event in client.events(run=run, project=project, on_open=opened):
                attempt = 0
                if wanted(event):
                    wake.set()
        except ApiError as error:
            if (since := paused_since(error, datetime.now(UTC))) is not None:
                if not paused and on_paused:
                    on_paused(since)
                paused = True
                await asyncio.sleep(error.retry_after or POLL_SECONDS)
                continue
        attempt += 1
        wake.set()  # the stream may have missed changes while it was down: look now
        await asyncio.sleep(backoff_delay(attempt, cap=POLL_SECONDS * 2))


@dataclass
class _Outage:
    """How long reading has failed: a transient failure is told once per outage (not on every attempt) and ridden
    out for GIVE_UP_SECONDS; any other, or a longer outage, is raised."""

    on_problem: Callable[[ApiError], None] | None
    since: float | None = None

    def failed(self, error: ApiError) -> None:
        if not is_transient(error):
            raise error
        now = time.monotonic()
        if self.since is None:
            self.since = now
            if self.on_problem:
                self.on_problem(error)
        elif now - self.since > GIVE_UP_SECONDS:
            raise error

    def over(self) -> None:
        self.since = None


async def follow_run(
    client: RunboardClient,
    run_id: str,
    *,
    on_event: Callable[[dict], None],
    on_status: Callable[[dict], None] | None = None,
    on_connection_problem: Callable[[ApiError], None] | None = None,
    on_live_paused: Callable[[datetime], None] | None = None,
    on_live_resumed: Callable[[], None] | None = None,
    after: int = 0,
) -> dict:
    """Call on_event for every timeline event after `after`, in order, until the run ends.
    Returns the final run (without events). Raises ApiError when the run is gone or the server stays away.
    on_live_paused(since) when the server's live updates are paused (the run is then read every POLL_SECONDS),
    on_live_resumed() when they are back."""
    outage = _Outage(on_connection_problem)
    last_status = None

    async def drain() -> None:
        nonlocal after  # advanced per event, so a read that fails half-way never repeats a line
        while True:
            events = await client.run_events(run_id, after=after, limit=PAGE)
            for event in events:
                on_event(event)
                after = event['seq']
            if len(events) < PAGE:
                return

    async with _woken_on_changes(client, run=run_id, on_paused=on_live_paused, on_resumed=on_live_resumed) as wake:
        while True:
            try:
                await drain()
                run = await client.get_run(run_id, events_limit=0)
                outage.over()
            except ApiError as error:
                outage.failed(error)
                await asyncio.sleep(POLL_SECONDS)
                continue
            if run['status'] != last_status:
                last_status = run['status']
                if on_status:
                    on_status(run)
            if is_terminal(run['status']):
                # the terminal status is written with its last events; one more read catches stragglers
                try:
                    await drain()
                except ApiError as error:
                    if not is_transient(error):
                        raise
                return run
            await _woken_or_due(wake)


async def follow_batch_runs(
    client: RunboardClient,
    batch_id: str,
    run_ids: Collection[str],
    *,
    project_id: str,
    on_end: Callable[[dict], None],
    on_connection_problem: Callable[[ApiError], None] | None = None,
    on_live_paused: Callable[[datetime], None] | None = None,
    on_live_resumed: Callable[[], None] | None = None,
) -> tuple[dict, dict[str, dict]]:
    """Until every run of `run_ids` (a matrix batch's) has ended: on_end(run) once for each, as it ends. Reads the
    batch (one request for all of them) when one of them changes status, or every POLL_SECONDS; a run whose cell a
    retry took meanwhile (possible only once it ended) is read alone. Returns the batch as last read and each run as
    it ended. Raises ApiError as follow_run does."""
    pending = set(run_ids)
    ended: dict[str, dict] = {}
    outage = _Outage(on_connection_problem)
    async with _woken_on_changes(
        client,
        project=project_id,
        wanted=lambda event: event.get('type') == 'run' and event.get('id') in pending,
        on_paused=on_live_paused,
        on_resumed=on_live_resumed,
    ) as wake:
        while True:
            try:
                batch = await client.get_batch(batch_id)
                now = {child['run']['id']: child['run'] for child in batch['children'] if child.get('run')}
                for run_id in pending - now.keys():
                    now[run_id] = await client.get_run(run_id, events_limit=0)
                outage.over()
            except ApiError as error:
                outage.failed(error)
                await asyncio.sleep(POLL_SECONDS)
                continue
            for run_id in run_ids:
                if run_id in pending and is_terminal(now[run_id]['status']):
                    pending.discard(run_id)
                    ended[run_id] = now[run_id]
                    on_end(now[run_id])
            if not pending:
                return batch, ended
            await _woken_or_due(wake)
