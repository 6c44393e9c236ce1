"""Send a run-creating request until it gets a definite answer, always with the same Idempotency-Key:
a resend after a dropped connection, a timeout or a 5xx replays the run the server may already have
made, so it never makes a second one. A 429 is waited out only when the caller asks for it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from app.cli.policy import next_delay
from app.client import ApiError, Response

MAX_ATTEMPTS = 6  # the first send and five resends: 0.25 + 0.5 + 1 + 2 + 4 s of backoff at most


@dataclass
class Notices:
    """How the caller shows progress; each receives the error that caused the wait and the seconds."""

    resending: Callable[[ApiError, float, int], None]
    rate_limited_wait: Callable[[ApiError, float], Awaitable[None]]


async def send_until_answered(
    send: Callable[[], Awaitable[Response]],
    *,
    notices: Notices,
    wait_on_rate_limit: bool,
    max_attempts: int = MAX_ATTEMPTS,
) -> Response:
    attempt = 1
    while True:
        try:
            return await send()
        except ApiError as error:
            if error.status == 429 and wait_on_rate_limit:
                await notices.rate_limited_wait(error, float(max(1, error.retry_after or 1)))
                attempt = 1
                continue
            delay = next_delay(error, attempt, max_attempts=max_attempts)
            if delay is None:
                raise
            notices.resending(error, delay, attempt)
            await asyncio.sleep(delay)
            attempt += 1
