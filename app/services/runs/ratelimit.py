"""Sliding-window quota per user: in-process in local mode, Redis in team mode.

Each admitted request holds one entry (its member id) in the window, so a request refused after
the quota check (409, validation race) gives its entry back: a refused request consumes no quota.
The `limits` package cannot remove a single hit, which is why this is written out here.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis

from app.core.errors import dependency_unavailable
from app.infra.redis import sync_client


@dataclass(frozen=True)
class Quota:
    allowed: bool
    limit: int
    remaining: int
    window_seconds: int
    reset_after: float  # seconds until the oldest entry leaves the window (0 when empty)

    @property
    def retry_after_seconds(self) -> int:
        """Whole seconds; never 0 while refused."""
        if self.allowed and self.remaining > 0:
            return 0
        return max(1, math.ceil(self.reset_after))


def quota_from(count: int, oldest: float | None, now: float, limit: int, window: int, allowed: bool) -> Quota:
    """Pure: the quota seen by a caller holding `count` entries, the oldest at `oldest`."""
    # clamp: Redis reports times as decimal strings, so oldest + window - now can exceed the window by a hair
    reset_after = 0.0 if oldest is None else min(float(window), max(0.0, oldest + window - now))
    return Quota(allowed, limit, max(0, limit - count), window, reset_after)


class MemoryLimiter:
    in_process = True  # never waits on the network

    def __init__(self, limit: int, window_seconds: int) -> None:
        self.limit, self.window = limit, window_seconds
        self._entries: dict[str, deque[tuple[float, str]]] = {}
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque:
        entries = self._entries.setdefault(key, deque())
        while entries and entries[0][0] <= now - self.window:
            entries.popleft()
        return entries

    def acquire(self, key: str, member: str) -> Quota:
        now = time.time()
        with self._lock:
            entries = self._trim(key, now)
            allowed = len(entries) < self.limit
            if allowed:
                entries.append((now, member))
            return quota_from(len(entries), entries[0][0] if entries else None, now, self.limit, self.window, allowed)

    def release(self, key: str, member: str) -> None:
        with self._lock:
            entries = self._entries.get(key)
            if entries:
                for item in list(entries):
                    if item[1] == member:
                        entries.remove(item)
                        break

    def peek(self, key: str) -> Quota:
        now = time.time()
        with self._lock:
            entries = self._trim(key, now)
            return quota_from(
                len(entries),
                entries[0][0] if entries else None,
                now,
                self.limit,
                self.window,
                len(entries) < self.limit,
            )

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if ARGV[3] ~= '' and count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
  count = count + 1
  allowed = 1
elseif ARGV[3] == '' and count < limit then
  allowed = 1
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local oldest_score = ''
if oldest[2] then oldest_score = oldest[2] end
return {allowed, count, tostring(now), oldest_score}
"""


class RedisLimiter:
    """Redis down: every call raises the 503 `dependency_unavailable` problem (nothing admitted without
    quota accounting). Redis back: the next call works again, no restart needed. The script is redis-py's
    registered Script: EVALSHA, and EVAL's SCRIPT LOAD when Redis has not seen it (or was restarted)."""

    def __init__(self, url: str, limit: int, window_seconds: int) -> None:
        self.limit, self.window = limit, window_seconds
        self._redis = sync_client(url)
        self._script = self._redis.register_script(_ACQUIRE_LUA)

    def _quota(self, reply: list[Any]) -> Quota:
        allowed, count, now, oldest = reply
        oldest_value = float(oldest) if oldest not in (b'', '', None) else None
        return quota_from(int(count), oldest_value, float(now), self.limit, self.window, bool(allowed))

    def acquire(self, key: str, member: str) -> Quota:
        with _outage():
            return self._quota(self._script(keys=[key], args=[self.window, self.limit, member]))

    def peek(self, key: str) -> Quota:
        return self.acquire(key, '')

    def release(self, key: str, member: str) -> None:
        with _outage():
            self._redis.zrem(key, member)

    def close(self) -> None:
        self._redis.close()

    async def aclose(self) -> None:
        pass  # nothing held on the event loop (the RateLimiter port closes both kinds)


@contextmanager
def _outage() -> Iterator[None]:
    """Redis not answering (gone, refusing the connection, still loading): the 503 problem."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError) as exc:
        raise dependency_unavailable(
            'redis',
            'The rate limiter (Redis) is not answering, so no run can be '
            'admitted right now. Nothing was created; try again shortly.',
        ) from exc


def make_limiter(redis_url: str | None, limit: int, window_seconds: int) -> MemoryLimiter | RedisLimiter:
    if redis_url:
        return RedisLimiter(redis_url, limit, window_seconds)
    return MemoryLimiter(limit, window_seconds)


def user_runs_key(prefix: str, user_id: str) -> str:
    return f'{prefix}:rl:user:{user_id}:runs'
