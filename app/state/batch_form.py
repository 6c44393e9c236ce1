"""The Run form's matrix submit: one Idempotency-Key per batch submit (a RunFormState of its own), resent as it
is after a lost answer, so a resend can never make a second batch or a second run of any combination."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.client import ApiError, Response, RunboardClient
from app.state.run_form import AUTO_RETRY_DELAYS, Failure, RunFormState, Sleep, describe_failure, is_auto_retryable


@dataclass
class BatchSubmit:
    response: Response | None = None
    failure: Failure | None = None
    attempts: int = 0


async def submit_batch(
    client: RunboardClient,
    form: RunFormState,
    payload: dict[str, Any],
    *,
    on_attempt: Callable[[int], Any] | None = None,
    sleep: Sleep = asyncio.sleep,
) -> BatchSubmit:
    """POST /runs/batch with the form's key (retried automatically with the same key after a network loss).
    payload: branch, depth_levels, target_frameworks, all_or_nothing, variables (optional). A refused child is no
    failure: the answer lists it, and the batch page shows it."""
    key = form.key_for(payload)
    correlation_id = uuid.uuid4().hex
    attempt = 0
    while True:
        attempt += 1
        form.attempts += 1
        if on_attempt is not None:
            on_attempt(attempt)
        try:
            reply = await client.trigger_batch(
                project_id=form.project_id,
                branch=payload['branch'],
                depth_levels=list(payload['depth_levels']),
                target_frameworks=list(payload['target_frameworks']),
                all_or_nothing=bool(payload.get('all_or_nothing')),
                variables=payload.get('variables') or None,
                key=key,
                correlation_id=correlation_id,
            )
        except ApiError as error:
            if is_auto_retryable(error) and attempt <= len(AUTO_RETRY_DELAYS):
                await sleep(AUTO_RETRY_DELAYS[attempt - 1])
                continue
            return BatchSubmit(failure=describe_failure(error, correlation_id), attempts=attempt)
        return BatchSubmit(response=reply, attempts=attempt)
