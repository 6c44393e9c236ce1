"""Redis commands on the admission path, sent on redis-py's own Connection objects without its client layers.

redis-py's client wraps every command in a pool checkout (with a fork check under a lock), a retry helper,
deprecation checks of its arguments and a response-callback lookup: on this machine about as much CPU as the
round trip itself (bench/team.py, py-spy). The hot path's few commands (the rate-limit script, PUBLISH) go
straight to a Connection taken from a small stack of idle ones. Errors are redis-py's own: a Redis error reply
raises ResponseError and leaves the connection usable; anything else drops the connection, and the next command
connects afresh.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from typing import Any


class DirectRedis:
    def __init__(self, url: str, **options: Any) -> None:
        import redis

        self._pool = redis.ConnectionPool.from_url(url, **options)
        self._response_error = redis.exceptions.ResponseError
        self._connection_error = redis.exceptions.ConnectionError
        self._idle: deque[Any] = deque()  # append and pop are atomic: no lock
        self._pid = os.getpid()

    def call(self, *command: Any) -> Any:
        """One command and its reply. A connection kept idle that turns out dead (Redis restarted, or dropped it)
        is replaced and the command sent once more, as redis-py's client retries: the hot path's commands may
        run twice (ZADD and ZREM of one member, PUBLISH of events that may be lost or repeated)."""
        if self._pid != os.getpid():  # forked: the parent's sockets are not ours
            self._idle = deque()
            self._pid = os.getpid()
        try:
            connection = self._idle.pop()
        except IndexError:
            return self._call_on(self._pool.make_connection(), command)
        try:
            return self._call_on(connection, command)
        except self._connection_error:
            return self._call_on(self._pool.make_connection(), command)

    def _call_on(self, connection: Any, command: tuple[Any, ...]) -> Any:
        try:
            connection.send_command(*command)
            reply = connection.read_response()
        except self._response_error:
            self._idle.append(connection)  # an error reply: the connection is fine
            raise
        except BaseException:
            connection.disconnect()
            raise
        self._idle.append(connection)
        return reply

    def close(self) -> None:
        while self._idle:
            self._idle.pop().disconnect()
        self._pool.disconnect()


class AsyncDirectRedis:
    """DirectRedis on the event loop: redis-py's asyncio Connection objects, the same retry. A connection serves
    one event loop; a call from another loop starts afresh."""

    def __init__(self, url: str, **options: Any) -> None:
        import redis
        import redis.asyncio

        self._pool = redis.asyncio.ConnectionPool.from_url(url, **options)
        self._response_error = redis.exceptions.ResponseError
        self._connection_error = redis.exceptions.ConnectionError
        self._idle: deque[Any] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def call(self, *command: Any) -> Any:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # another loop's connections cannot be awaited on this one
            self._idle, self._loop = deque(), loop
        try:
            connection = self._idle.pop()
        except IndexError:
            return await self._call_on(self._pool.make_connection(), command)
        try:
            return await self._call_on(connection, command)
        except self._connection_error:
            return await self._call_on(self._pool.make_connection(), command)

    async def _call_on(self, connection: Any, command: tuple[Any, ...]) -> Any:
        try:
            await connection.send_command(*command)
            reply = await connection.read_response()
        except self._response_error:
            self._idle.append(connection)
            raise
        except BaseException:
            await asyncio.shield(connection.disconnect(nowait=True))
            raise
        self._idle.append(connection)
        return reply

    async def close(self) -> None:
        if self._loop is asyncio.get_running_loop():
            while self._idle:
                await self._idle.pop().disconnect()
        self._idle.clear()
