"""Change events: an in-process bus, fanned out through Redis pub/sub in team mode.

Events are small dicts: {"type": "run"|"project"|"run.stop"|"queue", "id": ..., "project_id": ...,
"team_id": ..., ...}. Subscribers get an asyncio.Queue; publishing works from any thread. A subscriber that
says which events it accepts is not woken for the others: each admission publishes two events, and waking
every listener of the process for each cost more CPU than the admission's own SQLite write (bench/ceiling.py).

Through Redis, the events published while the previous PUBLISH was on its way leave together, as one message
holding a JSON list (RedisPublisher): under load an admission no longer pays a Redis round trip of its own, and
every instance's listener parses one message for many events (bench/team.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
QUEUE_SIZE = 10_000
BATCH_EVENTS = 500  # at most this many events in one Redis message
Event = dict[str, Any]
Accepts = Callable[[Event], bool]


def of_types(*types: str) -> Accepts:
    """Accepts the events of these types."""
    wanted = frozenset(types)
    return lambda event: event.get('type') in wanted


class EventBus:
    """In-process fan-out. Safe to publish from worker threads."""

    in_process = True  # publishing never waits on the network

    def __init__(self) -> None:
        self._subscribers: dict[asyncio.Queue, Accepts | None] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def close(self) -> None:
        self._loop = None

    def subscribe(self, accepts: Accepts | None = None) -> asyncio.Queue:
        """A queue of the events `accepts` says yes to (all of them without it)."""
        queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        with self._lock:
            self._subscribers[queue] = accepts
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        with self._lock:
            self._subscribers.pop(queue, None)

    def publish(self, event: dict[str, Any]) -> None:
        self._deliver(event)

    def publish_many(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.publish(event)

    def _deliver(self, event: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._fan_out(event)
        else:
            loop.call_soon_threadsafe(self._fan_out, event)

    def _fan_out(self, event: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers.items())
        for queue, accepts in subscribers:
            if accepts is not None and not _accepted(accepts, event):
                continue
            with contextlib.suppress(asyncio.QueueFull):  # a stalled reader misses events, never blocks others
                queue.put_nowait(event)


def _accepted(accepts: Accepts, event: Event) -> bool:
    try:
        return accepts(event)
    except Exception:  # a filter that cannot read this event does not get it (a stream may be another team's)
        log.warning('event filter failed; the subscriber misses this event', exc_info=True)
        return False


class RedisEventBus(EventBus):
    """Publishes through a Redis channel so every server instance sees every change."""

    in_process = False

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__()
        import redis
        import redis.asyncio as aioredis

        self._channel = f'{prefix}:events'
        self._sync = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=2.0)
        self._async = aioredis.Redis.from_url(url)
        self._task: asyncio.Task | None = None
        self._publisher = Publisher(self._send)

    async def start(self) -> None:
        await super().start()
        pubsub = self._async.pubsub()
        await pubsub.subscribe(self._channel)
        self._task = asyncio.create_task(self._listen(pubsub))

    async def _listen(self, pubsub) -> None:  # noqa: ANN001
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message and message.get('type') == 'message':
                    for event in events_of(message['data']):
                        self._fan_out(event)
            except asyncio.CancelledError:
                await pubsub.aclose()
                raise
            except Exception:  # keep listening through transient Redis errors
                log.exception('redis event listener error')
                await asyncio.sleep(0.5)

    def publish(self, event: dict[str, Any]) -> None:
        self.publish_many([event])

    def publish_many(self, events: list[dict[str, Any]]) -> None:
        """Queued for the publisher thread, which sends them with whatever else is waiting (never blocks)."""
        self._publisher.put(events)

    def _send(self, events: list[dict[str, Any]]) -> None:
        """One message for all of them (the publisher thread)."""
        try:
            self._sync.publish(self._channel, json.dumps(events, default=str))
        except Exception:  # Redis holds only what may be lost: degrade to local delivery
            log.warning('redis publish failed; delivering locally', exc_info=True)
            for event in events:
                self._deliver(event)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await asyncio.to_thread(self._publisher.close)  # what was published before close still goes out
        await self._async.aclose()
        self._sync.close()
        await super().close()


def events_of(data: bytes | str) -> list[Event]:
    """A message's events: a JSON list of them (or one event, as a message of an older instance holds)."""
    decoded = json.loads(data)
    return decoded if isinstance(decoded, list) else [decoded]


class Publisher:
    """A thread that hands what was queued to `send` in batches of up to BATCH_EVENTS, in order. Batches form by
    themselves: whatever was queued while the previous send was on its way goes with the next. Started on first
    use in each process (a forked worker gets a thread of its own)."""

    def __init__(self, send: Callable[[list[Event]], None]) -> None:
        self._send = send
        self._pending: deque[Event] = deque()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._closed = False

    def put(self, events: list[Event]) -> None:
        with self._wake:
            self._pending.extend(events)
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._closed = False
                self._thread = threading.Thread(target=self._run, name='runboard-event-publisher', daemon=True)
                self._thread.start()
            self._wake.notify()

    def close(self, timeout: float = 5.0) -> None:
        """Sends what is queued, then stops the thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread if self._pid == os.getpid() else None
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if not self._pending:  # closed and nothing left
                    self._thread = None
                    return
                count = min(len(self._pending), BATCH_EVENTS)
                batch = [self._pending.popleft() for _ in range(count)]
            try:
                self._send(batch)
            except Exception:  # the thread must outlive any one batch
                log.exception('event publish failed')


def make_bus(redis_url: str | None, prefix: str) -> EventBus:
    return RedisEventBus(redis_url, prefix) if redis_url else EventBus()
