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
