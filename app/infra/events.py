"""Change events: an in-process bus, fanned out through Redis pub/sub in team mode.

Events are small dicts: {"type": "run"|"project"|"run.stop"|"queue", "id": ..., "project_id": ...,
"team_id": ..., ...}. Subscribers get an asyncio.Queue; publishing works from any thread. A subscriber that
says which events it accepts is not woken for the others: each admission publishes two events, and waking
every listener of the process for each cost more CPU than the admission's own SQLite write (bench/ceiling.py).

Through Redis, the events of one publish_many (an admission's two) travel as one message holding a JSON list:
every instance's listener reads one message, not two. (A publisher thread gathering the events of concurrent
admissions into one message was tried: at this machine's few hundred admissions a second the batches held one
admission's events, and the hand-over to the thread cost more CPU than it saved; bench/team.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.client import PubSub

from app.infra.redis import async_client, sync_client

log = logging.getLogger(__name__)
QUEUE_SIZE = 10_000
RESUBSCRIBE_SECONDS = 0.5
SUBSCRIBE_SECONDS = 2.0  # how long Redis may take to confirm a subscription
Event = dict[str, Any]
Accepts = Callable[[Event], bool]


def of_types(*types: str) -> Accepts:
    """Accepts the events of these types."""
    wanted = frozenset(types)
    return lambda event: event.get('type') in wanted


STOPPING_EVENT = 'server.stopping'  # delivered on this instance only, when it is told to stop
# delivered on this instance only, when its listener lost Redis: it misses what other servers and workers publish
LISTENER_DOWN_EVENT = 'server.listener_down'


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

    def listener_failure(self) -> str | None:
        """None while this bus delivers events (started, its listener running), else what is wrong."""
        return None if self._loop is not None else 'not started'

    def live_failure(self) -> str | None:
        """None while every change reaches this instance's subscribers, else why not (a live stream then says so
        instead of staying open and silent)."""
        return self.listener_failure()

    def live_paused_since(self) -> datetime | None:
        """When this instance's listener lost Redis, while it has not subscribed again (None otherwise)."""
        return None

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

    def deliver_here(self, event: dict[str, Any]) -> None:
        """To this instance's subscribers only (never to other instances)."""
        self._deliver(event)

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
    """Publishes through a Redis channel so every server instance sees every change; one listener per instance
    subscribes to it (redis-py's PubSub) and fans each message out to this instance's subscribers."""

    in_process = False

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__()
        self._url = url
        self._channel = f'{prefix}:events'
        self._task: asyncio.Task | None = None
        self._publishing = sync_client(url)  # from worker threads
        self._listening: AsyncRedis | None = None
        self._cannot_subscribe: str | None = None  # the last subscription attempt failed: why
        self._resubscribing = False  # its connection dropped and it is not subscribed again yet
        self._dropped_at: datetime | None = None  # when it did (live updates are paused since then)

    async def start(self) -> None:
        await super().start()
        # its own connection: a subscribed connection serves nothing else; named for CLIENT LIST
        self._listening = async_client(self._url, client_name=self._channel)
        pubsub = await self._subscribe()  # raises when Redis is not there at start
        self._task = asyncio.create_task(self._listen(pubsub))

    def listener_failure(self) -> str | None:
        """Down when the listener's task ended, and while it cannot subscribe (Redis gone, or refusing it).
        Just after a drop, before its first attempt to subscribe again, it still counts as up."""
        task = self._task
        if task is None:
            return 'not started'
        if task.done():
            failure = None if task.cancelled() else task.exception()
            return f'stopped: {type(failure).__name__}' if failure else 'stopped'
        if self._cannot_subscribe is not None:
            return f'cannot subscribe: {self._cannot_subscribe}'
        return super().listener_failure()

    def live_failure(self) -> str | None:
        """Also right after a drop: events are missed from then on, though readiness waits for a failed attempt to
        subscribe again before it counts the listener down."""
        return self.listener_failure() or ('subscribing again after Redis dropped it' if self._resubscribing else None)

    def live_paused_since(self) -> datetime | None:
        return self._dropped_at

    async def _subscribe(self) -> PubSub:
        """Subscribed on a new connection, or the error that prevented it (Redis away, or refusing: NOPERM)."""
        assert self._listening is not None
        pubsub = self._listening.pubsub()
        try:
            await pubsub.subscribe(self._channel)
            # redis-py sends SUBSCRIBE without reading its answer: read it here, so a refusal raises here
            answer = await pubsub.get_message(timeout=SUBSCRIBE_SECONDS)
            if answer is None or answer['type'] != 'subscribe':
                raise redis.ConnectionError(f'Redis did not confirm the subscription: {answer}')
        except BaseException:
            await pubsub.aclose()
            raise
        return pubsub

    async def _listen(self, pubsub: PubSub) -> None:
        """Reads the channel; after a drop redis-py connects and subscribes again by itself once, and when that
        fails too this loop tries every RESUBSCRIBE_SECONDS until it is subscribed again."""
        try:
            while True:
                try:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                except (redis.RedisError, OSError) as exc:
                    log.warning('redis event listener lost its connection (%s); subscribing again', exc)
                    self._resubscribing = True
                    self._dropped_at = datetime.now(UTC)
                    self.deliver_here({'type': LISTENER_DOWN_EVENT})  # live streams end: they would miss changes
                    await pubsub.aclose()
                    pubsub = await self._subscribe_again()
                    self._resubscribing = False
                    self._dropped_at = None
                    continue
                if message is not None and message['type'] == 'message':
                    self._on_message(message['data'])
        finally:
            await pubsub.aclose()

    async def _subscribe_again(self) -> PubSub:
        attempts = 0
        while True:
            await asyncio.sleep(RESUBSCRIBE_SECONDS)
            attempts += 1
            try:
                pubsub = await self._subscribe()
            except (redis.RedisError, OSError) as exc:  # Redis still away, or refusing: keep trying, say so once
                self._cannot_subscribe = f'{type(exc).__name__}: {exc}'
                (log.warning if attempts == 1 else log.debug)('redis event listener cannot subscribe: %s', exc)
                continue
            self._cannot_subscribe = None
            if attempts > 1:
                log.warning('redis event listener subscribed again after %d attempts', attempts)
            return pubsub

    def _on_message(self, data: bytes) -> None:
        try:
            events = events_of(data)
        except ValueError:  # not ours: another program on the channel
            log.warning('redis event listener skipped a message that is not JSON')
            return
        for event in events:
            self._fan_out(event)

    def publish(self, event: dict[str, Any]) -> None:
        self.publish_many([event])

    def publish_many(self, events: list[dict[str, Any]]) -> None:
        """One message for all of them: one round trip, and one message for every instance's listener to read."""
        try:
            self._publishing.publish(self._channel, json.dumps(events, default=str))
        except Exception:  # Redis holds only what may be lost: degrade to local delivery
            log.warning('redis publish failed; delivering locally', exc_info=True)
            for event in events:
                self._deliver(event)

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._listening is not None:
            await self._listening.aclose()
        self._publishing.close()
        await super().close()


def events_of(data: bytes | str) -> list[Event]:
    """A message's events: a JSON list of them (or one event, as a message of an older instance holds)."""
    decoded = json.loads(data)
    return decoded if isinstance(decoded, list) else [decoded]


def make_bus(redis_url: str | None, prefix: str) -> EventBus:
    return RedisEventBus(redis_url, prefix) if redis_url else EventBus()
