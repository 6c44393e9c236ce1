"""Table tests of the CLI's pure decisions, and the resend loop with a scripted `send`."""

from __future__ import annotations

import pytest

from app.cli.policy import Exit, backoff_delay, exit_code_for, exit_code_for_outcome, is_transient, next_delay
from app.cli.submit import Notices, send_until_answered
from app.client import ApiError, Response


def error(status: int, code: str = 'x', retry_after: str | None = None) -> ApiError:
    return ApiError(status, code, 'detail', 'cid', {}, {'retry-after': retry_after} if retry_after else {})


@pytest.mark.parametrize(
    ('status', 'code', 'expected'),
    [
        (0, 'network', Exit.UNREACHABLE),
        (0, 'timeout', Exit.UNREACHABLE),
        (500, 'internal', Exit.UNREACHABLE),
        (503, 'http_error', Exit.UNREACHABLE),
        (429, 'rate_limited', Exit.REFUSED),
        (409, 'pr_lock', Exit.REFUSED),
        (409, 'concurrency_limit', Exit.REFUSED),
        (409, 'no_ready_issue', Exit.REFUSED),
        (404, 'not_found', Exit.NOT_FOUND),
        (410, 'artifacts_expired', Exit.NOT_FOUND),  # gone: retention removed it, as not found as a 404
        (403, 'forbidden', Exit.NOT_FOUND),
        (401, 'unauthorized', Exit.NOT_FOUND),
        (422, 'validation', Exit.USAGE),
        (422, 'idempotency_key_mismatch', Exit.USAGE),
        (413, 'payload_too_large', Exit.USAGE),
        (400, 'http_error', Exit.USAGE),
        (301, 'redirect', Exit.UNREACHABLE),  # a proxy's http -> https, or another service: no Runboard API there
        (307, 'redirect', Exit.UNREACHABLE),
    ],
)
def test_exit_code_for(status: int, code: str, expected: Exit) -> None:
    assert exit_code_for(error(status, code)) == expected


@pytest.mark.parametrize(
    ('status', 'expected'),
    [
        ('succeeded', Exit.OK),
        ('failed', Exit.RUN_NOT_SUCCEEDED),
        ('timed_out', Exit.RUN_NOT_SUCCEEDED),
        ('crashed', Exit.RUN_NOT_SUCCEEDED),
        ('stopped', Exit.RUN_NOT_SUCCEEDED),
    ],
)
def test_exit_code_for_outcome(status: str, expected: Exit) -> None:
    assert exit_code_for_outcome(status) == expected


@pytest.mark.parametrize(
    ('status', 'code', 'expected'),
    [
        (0, 'network', True),
        (0, 'timeout', True),
        (502, 'http_error', True),
        (500, 'internal', True),
        (503, 'http_error', True),
        (501, 'http_error', False),
        (409, 'idempotency_in_flight', True),  # the first send is still being processed: same key, ask again
        (409, 'pr_lock', False),
        (429, 'rate_limited', False),
        (422, 'validation', False),
        (404, 'not_found', False),
        (308, 'redirect', False),  # asking the same address again cannot help
    ],
)
def test_is_transient(status: int, code: str, expected: bool) -> None:
    assert is_transient(error(status, code)) is expected


@pytest.mark.parametrize(('attempt', 'expected'), [(1, 0.25), (2, 0.5), (3, 1.0), (4, 2.0), (5, 4.0), (9, 4.0)])
def test_backoff_is_exponential_and_capped(attempt: int, expected: float) -> None:
    assert backoff_delay(attempt) == expected


@pytest.mark.parametrize(
    ('err', 'attempt', 'expected'),
    [
        (error(0, 'network'), 1, 0.25),
        (error(0, 'network'), 5, 4.0),
        (error(0, 'network'), 6, None),  # the bound: give up
        (error(409, 'idempotency_in_flight', retry_after='1'), 1, 1.0),  # the server's hint wins
        (error(503, 'http_error', retry_after='3600'), 1, 0.25),  # an absurd hint is not obeyed
        (error(409, 'pr_lock'), 1, None),
        (error(429, 'rate_limited', retry_after='5'), 1, None),  # waited out only with --wait, elsewhere
    ],
)
def test_next_delay(err: ApiError, attempt: int, expected: float | None) -> None:
    assert next_delay(err, attempt, max_attempts=6) == expected


def _scripted(outcomes: list):  # noqa: ANN202
    sent: list[int] = []

    async def send() -> Response:
        sent.append(len(sent))
        outcome = outcomes[len(sent) - 1]
        if isinstance(outcome, ApiError):
            raise outcome
        return outcome

    return send, sent


def _notices(log: list) -> Notices:
    async def waited(err: ApiError, seconds: float) -> None:
        log.append(('wait', seconds))

    return Notices(lambda err, delay, attempt: log.append(('resend', attempt)), waited)


async def test_resends_until_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr('app.cli.submit.asyncio.sleep', _no_sleep)
    ok = Response(200, {'id': 'run_1'}, {'idempotent-replayed': 'true'})
    send, sent = _scripted([error(0, 'network'), error(502), ok])
    log: list = []
    reply = await send_until_answered(send, notices=_notices(log), wait_on_rate_limit=False)
    assert reply is ok and len(sent) == 3 and log == [('resend', 1), ('resend', 2)]


async def test_gives_up_after_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr('app.cli.submit.asyncio.sleep', _no_sleep)
    send, sent = _scripted([error(0, 'network')] * 10)
    with pytest.raises(ApiError):
        await send_until_answered(send, notices=_notices([]), wait_on_rate_limit=False, max_attempts=4)
    assert len(sent) == 4


async def test_rate_limit_is_waited_out_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    ok = Response(201, {'id': 'run_1'}, {})
    send, sent = _scripted([error(429, 'rate_limited', retry_after='7')])
    with pytest.raises(ApiError) as refused:
        await send_until_answered(send, notices=_notices([]), wait_on_rate_limit=False)
    assert refused.value.status == 429 and len(sent) == 1
    send, sent = _scripted([error(429, 'rate_limited', retry_after='7'), ok])
    log: list = []
    assert await send_until_answered(send, notices=_notices(log), wait_on_rate_limit=True) is ok
    assert log == [('wait', 7.0)]


async def _no_sleep(_seconds: float) -> None:
    return None
