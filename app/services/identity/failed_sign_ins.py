"""Failed token checks, counted per client address: once an address has failed `limit` times within the window, its
tokens that this instance does not already know to be valid are refused with 429 and a Retry-After, without asking
the database, until its oldest failure leaves the window. Tokens are 256 bits, so this is not what keeps a guess
from working; it keeps a script (or a person) looping on random or revoked tokens from costing a database read each,
and makes one that does so visible in the logs.

Whose address: the TCP peer's (uvicorn puts a reverse proxy's X-Forwarded-For there when the proxy is on this
machine). A peer on loopback is this machine, and is not counted: it is mostly the server's own UI calling its
API for every signed-in browser (counting them as one would let one browser's revoked token lock out everyone's
next check). The UI names the browser's address when it checks a token typed on the sign-in page (a header only a
loopback peer may set: core/origins.py), and that address is counted. The count is this instance's (two instances
behind one address each count their own)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0
MOST_ADDRESSES = 10_000  # beyond this many addresses with failures, the oldest counts are dropped


class FailedSignIns:
    """The failures of the last window per address. limit 0: nothing is counted or refused."""

    def __init__(self, limit: int, window_seconds: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self._clock = limit, window_seconds, clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str | None) -> int:
        """Whole seconds until this address may try again; 0 when it may now."""
        if not self.limit or address is None:
            return 0
        now = self._clock()
        with self._lock:
            failures = self._recent(address, now)
            if len(failures) < self.limit:
                return 0
            return max(1, math.ceil(failures[0] + self.window - now))

    def record(self, address: str | None) -> None:
        if not self.limit or address is None:
            return
        now = self._clock()
        with self._lock:
            if address not in self._failures and len(self._failures) >= MOST_ADDRESSES:
                self._failures.pop(next(iter(self._failures)))
            failures = self._recent(address, now)
            failures.append(now)
            while len(failures) > self.limit:
                failures.popleft()

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures
