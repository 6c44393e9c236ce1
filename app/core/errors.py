"""Domain errors carry the machine code and HTTP status the API turns into problem+json."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Refusal:
    """A decision's no, before it is raised: the status and machine code, and what the answer names."""

    status: int
    error: str
    detail: str
    field: str | None = None
    blocking_runs: tuple[str, ...] = ()
    retry_after: int | None = None
    extra: dict = dataclasses.field(default_factory=dict)


class DomainError(Exception):
    def __init__(
        self, status: int, error: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail
        self.headers = headers or {}
        self.extra = {k: v for k, v in extra.items() if v is not None}

    @classmethod
    def from_refusal(cls, refusal: Refusal, headers: dict[str, str] | None = None) -> DomainError:
        extra: dict[str, Any] = dict(refusal.extra)
        if refusal.field:
            extra['field'] = refusal.field
        if refusal.blocking_runs:
            extra['blocking_runs'] = list(refusal.blocking_runs)
        if refusal.retry_after is not None:
            extra['retry_after_seconds'] = refusal.retry_after
        return cls(refusal.status, refusal.error, refusal.detail, headers=headers, **extra)


def not_found(what: str) -> DomainError:
    return DomainError(404, 'not_found', f'{what} not found')


def forbidden(detail: str) -> DomainError:
    return DomainError(403, 'forbidden', detail)


EDIT_CONFLICT = 'edit_conflict'


def edit_conflict(what: str, read: int, now: int, *, field: str) -> DomainError:
    """409 edit_conflict for an edit made on version `read` of `what` ('Webhook “CI alerts”'), which another change
    has moved on to `now` since: nothing was saved. `field` names the version the edit sent; `current_version` is
    the one to read again (a webhook rule's `version`, a project's or a schedule's `edit_version`)."""
    return DomainError(
        409,
        EDIT_CONFLICT,
        f'{what} was changed by someone else since you read it (version {read}, now {now}): nothing was saved. '
        'Read it again and make your change on it as it is now.',
        field=field,
        current_version=now,
    )


OUTAGE_RETRY_AFTER_SECONDS = 5


def dependency_unavailable(dependency: str, detail: str) -> DomainError:
    """A service this server needs did not answer: 503 with Retry-After; nothing was done."""
    return DomainError(
        503,
        'dependency_unavailable',
        detail,
        dependency=dependency,
        headers={'Retry-After': str(OUTAGE_RETRY_AFTER_SECONDS)},
    )
