"""Sortable ids: prefix + 48-bit millisecond time + 80 bits that increase within a millisecond."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime

_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'  # Crockford base32, lower case
RUN_PREFIX = 'run_'
_lock = threading.Lock()
_last = (0, 0)


def _encode(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(_ALPHABET[value & 31])
        value >>= 5
    return ''.join(reversed(out))


def time_prefix(moment: datetime) -> str:
    """The id characters every id minted at `moment` or later (in ms) sorts at or above."""
    return _encode(max(0, int(moment.timestamp() * 1000)), 10)


def new_run_id(prefix: str = RUN_PREFIX, *, at: datetime | None = None) -> str:
    """ULID-like, monotonic within this process: later ids sort after earlier ones. A run delayed until `at`
    gets an id of that moment instead, so lists ordered by id (newest first) show it where it will start:
    above the runs of now while it waits, among its peers once it runs (as Prefect sorts by expected start)."""
    if at is not None and at.timestamp() * 1000 > time.time_ns() // 1_000_000:
        random_part = int.from_bytes(os.urandom(10), 'big') >> 1
        return prefix + _encode(int(at.timestamp() * 1000), 10) + _encode(random_part, 16)
    global _last
    with _lock:
        now = time.time_ns() // 1_000_000
        last_ms, last_rand = _last
        rand = last_rand + 1 if now <= last_ms else int.from_bytes(os.urandom(10), 'big') >> 1
        now = max(now, last_ms)
        _last = (now, rand)
    return prefix + _encode(now, 10) + _encode(rand, 16)
