"""Pure CLI decisions: exit codes, which failures are safe to resend, how long to back off. No I/O."""

from __future__ import annotations

from enum import IntEnum

from app.client import ApiError
from app.models import TERMINAL_STATUSES


class Exit(IntEnum):
    OK = 0
    RUN_NOT_SUCCEEDED = 1  # the followed run ended in anything but succeeded
    USAGE = 2  # bad arguments, or a request the server rejected as invalid (400/413/422)
    REFUSED = 3  # rate limited (429) or blocked by a lock / limit (409)
    NOT_FOUND = 4  # not found, gone, forbidden or unauthenticated (404/410/403/401)
    UNREACHABLE = 5  # no answer, a redirect away, or the server failed (5xx) after the retries
    STDOUT_CLOSED = 141  # the reader of stdout went away (`| head`): 128 + SIGPIPE, as a shell reports git's or gh's


# Retrying these with the same Idempotency-Key can never create a second run: the server either never
# saw the request, or stored the key with the run and replays it.
IN_FLIGHT_ERRORS = {'idempotency_in_flight'}


def exit_code_for(error: ApiError) -> Exit:
    """The process exit code for a request that finally failed."""
    return exit_for_status(error.status)


def exit_for_status(status: int) -> Exit:
    """The exit code for a refusal of this HTTP status (0: no answer), the API's or a server-side command's."""
    if status == 0 or status >= 500 or 300 <= status < 400:  # a redirect: no Runboard API at that address
        return Exit.UNREACHABLE
    if status in (409, 429):
        return Exit.REFUSED
    if status in (401, 403, 404, 410):
        return Exit.NOT_FOUND
    return Exit.USAGE  # any other 4xx: the request itself was wrong (400, 405, 413, 422, ...)


def exit_code_for_outcome(status: str) -> Exit:
    return Exit.OK if status == 'succeeded' else Exit.RUN_NOT_SUCCEEDED


def exit_code_for_batch(summary: dict[str, int]) -> Exit:
    """A matrix batch: OK when every child is admitted, REFUSED when any was refused (or not yet tried)."""
    return Exit.OK if summary.get('admitted') == summary.get('total') else Exit.REFUSED


def exit_code_for_followed_batch(summary: dict[str, int], statuses: list[str]) -> Exit:
    """A matrix batch followed to its end (`runs trigger --matrix ... --follow`): RUN_NOT_SUCCEEDED when any of its
    runs ended otherwise than succeeded (the batch failed, whatever else); else REFUSED when a child was refused or
    not tried (the same --key admits it); OK only when every child ran and succeeded."""
    if any(status != 'succeeded' for status in statuses):
        return Exit.RUN_NOT_SUCCEEDED
    return exit_code_for_batch(summary)


PERMANENT_5XX = {501, 505}  # not implemented / version not supported: asking again cannot help


def is_transient(error: ApiError) -> bool:
    """May the same request (same key) be sent again? Dropped connections, timeouts, 5xx, in-flight replays."""
    if error.status in PERMANENT_5XX:
        return False
    return error.status == 0 or error.status >= 500 or error.error in IN_FLIGHT_ERRORS


def backoff_delay(attempt: int, *, base: float = 0.25, cap: float = 4.0) -> float:
    """Seconds to wait before resend number `attempt` (1-based): 0.25, 0.5, 1, 2, 4, 4, ..."""
    return min(cap, base * (2 ** max(0, attempt - 1)))


def next_delay(error: ApiError, attempt: int, *, max_attempts: int) -> float | None:
    """Wait this long and resend, or None to give up. The server's Retry-After wins over our backoff."""
    if not is_transient(error) or attempt >= max_attempts:
        return None
    hinted = error.retry_after
    return float(hinted) if hinted is not None and 0 < hinted <= 30 else backoff_delay(attempt)


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES
