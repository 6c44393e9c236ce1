"""Redis on the event loop as an asyncio Protocol: the admission's commands (the rate-limit script, PUBLISH) and
the event listener's subscription, their replies parsed by hiredis as the bytes arrive.

redis-py's asyncio connection reads every reply through a StreamReader inside a per-read timeout context, and
its PubSub wraps every message in a get_message call with a timeout of its own: on the team admission's loop
that was several percent of the CPU (bench/team.py, py-spy). Here a reply completes its future from
data_received, and a subscription message goes to its callback there: no task and no timer per command. One
watchdog timer per connection fails the commands still waiting after `timeout`. Commands from concurrent
admissions share one connection (Redis answers in order). Errors are redis-py's classes, so callers handle them
as before: an error reply raises ResponseError (NoScriptError, BusyLoadingError), a dropped or silent
connection ConnectionError or TimeoutError.

rediss:// (TLS) URLs are not handled here: `loop_redis` gives redis_direct.AsyncDirectRedis for them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import hiredis
from redis import exceptions
from redis.connection import parse_url

from app.infra.redis_direct import AsyncDirectRedis

ERROR_CLASSES: dict[str, type[exceptions.RedisError]] = {
    'NOSCRIPT': exceptions.NoScriptError,
    'LOADING': exceptions.BusyLoadingError,
    'WRONGPASS': exceptions.AuthenticationError,
    'NOAUTH': exceptions.AuthenticationError,
}


def reply_error(message: str) -> exceptions.RedisError:
    """The redis-py exception of an error reply ('NOSCRIPT No matching script' -> NoScriptError)."""
    error_class = ERROR_CLASSES.get(message.split(' ', 1)[0], exceptions.ResponseError)
    return error_class(message)


class Commands(Protocol):
    async def call(self, *command: Any) -> Any: ...
    async def close(self) -> None: ...


class _Connection(asyncio.Protocol):
    """One connection: commands answered in order; replies that no command waits for (a subscription's messages)
    go to on_push."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float, on_push: Callable[[Any], None] | None) -> None:
        self.loop, self.timeout, self.on_push = loop, timeout, on_push
        self.reader = hiredis.Reader(protocolError=exceptions.InvalidResponse, replyError=reply_error)
        self.waiting: deque[tuple[asyncio.Future, float]] = deque()  # and when each was sent
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future = loop.create_future()
        self.failure: Exception | None = None
        self.watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                if self.waiting:
                    future = self.waiting.popleft()[0]
                    if future.done():  # its caller was cancelled
                        continue
                    if isinstance(reply, exceptions.RedisError):
                        future.set_exception(reply)
                    else:
                        future.set_result(reply)
                elif self.on_push is not None:
                    self.on_push(reply)
        except exceptions.InvalidResponse as exc:  # the stream cannot be read on: drop the connection
            self.fail(exceptions.ConnectionError(f'Redis sent what cannot be parsed: {exc}'))

    def connection_lost(self, exc: Exception | None) -> None:
        failure = self.failure or exceptions.ConnectionError(f'Redis closed the connection ({exc or "EOF"})')
        self.failure, self.transport = failure, None
        if self.watchdog is not None:
            self.watchdog.cancel()
        while self.waiting:
            future = self.waiting.popleft()[0]
            if not future.done():
                future.set_exception(failure)
        if not self.closed.done():
            self.closed.set_result(failure)

    def fail(self, failure: Exception) -> None:
        self.failure = self.failure or failure
        if self.transport is not None:
            self.transport.abort()  # connection_lost follows, and fails what waits

    @property
    def usable(self) -> bool:
        return self.transport is not None and self.failure is None

    def send(self, payload: bytes, answers: int = 1) -> list[asyncio.Future]:
        if self.transport is None or self.failure is not None:
            raise self.failure or exceptions.ConnectionError('Redis connection is not open')
        now = self.loop.time()
        futures = [self.loop.create_future() for _ in range(answers)]
        self.waiting.extend((future, now) for future in futures)
        self.transport.write(payload)
        if self.watchdog is None:
            self.watchdog = self.loop.call_at(now + self.timeout, self._check)
        return futures

    def command(self, *command: Any) -> asyncio.Future:
        """One command's reply, to await."""
        return self.send(hiredis.pack_command(command))[0]

    def _check(self) -> None:
        self.watchdog = None
        if not self.waiting:
            return
        due = self.waiting[0][1] + self.timeout
        if self.loop.time() >= due:
            self.fail(exceptions.TimeoutError(f'Redis did not answer within {self.timeout:g} s'))
        else:
            self.watchdog = self.loop.call_at(due, self._check)


class LoopRedis:
    """Commands on one pipelined connection of the running loop; connected on first use, and again after a drop.
    A connection that was already open and turns out dead (Redis restarted while it sat idle) is replaced and
    the command sent once more, as redis-py's client retries: commands may run twice (see redis_direct.py)."""

    def __init__(
        self,
        url: str,
        *,
        socket_connect_timeout: float = 1.0,
        socket_timeout: float = 2.0,
        on_push: Callable[[Any], None] | None = None,
    ) -> None:
        self._address = parse_url(url)
        self._connect_timeout, self._timeout = socket_connect_timeout, socket_timeout
        self._on_push = on_push
        self._connection: _Connection | None = None
        self._connecting: asyncio.Task | None = None

    async def call(self, *command: Any) -> Any:
        connection = self._connection
        if connection is not None and connection.usable and connection.loop is asyncio.get_running_loop():
            try:
                return await connection.command(*command)
            except exceptions.ConnectionError:
                pass  # connected before this command: perhaps dropped while idle, so once more on a new one
        connection = await self.connect()
        return await connection.command(*command)

    async def connect(self) -> _Connection:
        """This loop's open connection, or a new one (one at a time: concurrent callers share it)."""
        loop = asyncio.get_running_loop()
        connection = self._connection
        if connection is not None and connection.usable and connection.loop is loop:
            return connection
        connecting = self._connecting
        if connecting is None or connecting.done() or connecting.get_loop() is not loop:
            connecting = self._connecting = loop.create_task(self._open(loop))
        return await asyncio.shield(connecting)

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        address = self._address
        connection = _Connection(loop, self._timeout, self._on_push)
        try:
            if 'path' in address:
                opening = loop.create_unix_connection(lambda: connection, address['path'])
            else:
                host, port = address.get('host', 'localhost'), address.get('port', 6379)
                opening = loop.create_connection(lambda: connection, host, port)
            await asyncio.wait_for(opening, self._connect_timeout)
        except (TimeoutError, OSError) as exc:
            raise exceptions.ConnectionError(f'Could not connect to Redis: {exc}') from exc
        handshake = []
        if address.get('password'):
            handshake.append(('AUTH', *filter(None, (address.get('username'), address['password']))))
        if address.get('db'):
            handshake.append(('SELECT', address['db']))
        if handshake:
            try:
                for answer in connection.send(b''.join(hiredis.pack_command(c) for c in handshake), len(handshake)):
                    await answer
            except BaseException:
                connection.fail(exceptions.ConnectionError('Redis refused the connection set-up'))
                raise
        self._connection = connection
        return connection

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and connection.transport is not None:
            connection.transport.close()


def loop_redis(url: str, **options: Any) -> Commands:
    """LoopRedis, or redis-py's asyncio connections for a URL it does not handle (TLS)."""
    if url.startswith('rediss://'):
        return AsyncDirectRedis(url, **options)
    return LoopRedis(url, **options)
