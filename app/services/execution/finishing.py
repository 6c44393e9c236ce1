"""The end of a run: the outcome it ends with (pure: decide_outcome), and the terminal write, retried so a
database hiccup at the last moment does not leave the run `running`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from app.models import RunStatus
from app.services.execution.output_ingest import FLUSH_RETRY_SECONDS
from app.services.execution.reaper import KillReason, classify_run, finish_run
from app.services.runs.timing import duration_text

log = logging.getLogger(__name__)
FINISH_ATTEMPTS = 5
SHUTDOWN_ERROR = 'server stopped while the run was in progress'
PULL_REQUEST_MESSAGE = 'its pull request was found; the process group was ended'


@dataclass(frozen=True)
class Outcome:
    status: RunStatus
    error: str | None
    message: str | None  # the terminal event's text


def decide_outcome(
    *,
    forced: RunStatus | None,
    exit_code: int | None,
    kill_reason: KillReason,
    has_pull_request: bool,
    error: str | None,
    budget_seconds: int | None = None,
) -> Outcome:
    """Pure. The status is reaper.classify_run's (a pull request wins, then `forced`, then the process's own
    fate); the error and the terminal event's text follow from why it ended: a run past its budget says which
    budget (`budget_seconds`, the project's run budget it was admitted with) and that Runboard ended it."""
    status = classify_run(
        exit_code=exit_code, kill_reason=kill_reason, has_pull_request=has_pull_request, forced=forced
    )
    if kill_reason == 'shutdown':
        error = error or SHUTDOWN_ERROR
    if status == RunStatus.timed_out and error is None:
        budget = f' of {duration_text(budget_seconds)}' if budget_seconds else ''
        error = f'the run reached its run budget{budget} and Runboard ended it'
        if exit_code is not None:
            return Outcome(status, error, f'{error} (exit code {exit_code})')
    message = PULL_REQUEST_MESSAGE if kill_reason == 'pull_request' else error
    return Outcome(status, error, message)


async def finish_with_retries(engine: Engine, run_id: str, **outcome: Any) -> dict[str, Any] | None:
    for attempt in range(FINISH_ATTEMPTS):
        try:
            return await asyncio.to_thread(finish_run, engine, run_id=run_id, **outcome)
        except Exception:
            log.exception('reaping run %s failed (attempt %d)', run_id, attempt + 1)
            if attempt == FINISH_ATTEMPTS - 3 and outcome.get('output'):
                log.error('run %s: storing without its last %d output lines', run_id, len(outcome['output']))
                outcome['output'] = None  # in case they are what fails: the terminal status matters more
            await asyncio.sleep(FLUSH_RETRY_SECONDS * (attempt + 1))
    return None
