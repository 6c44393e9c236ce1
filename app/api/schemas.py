"""Response documentation shared by the routers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.models import RunPublic


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    error: str
    correlation_id: str
    field: str | None = None
    blocking_runs: list[str] | None = None
    retry_after_seconds: int | None = None


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The problem answers a route documents; every route may answer 503 dependency_unavailable (the
    database or Redis not answering, with Retry-After)."""
    return {code: {'model': Problem, 'content': {'application/problem+json': {}}} for code in (*codes, 503)}


class RunPage(BaseModel):
    items: list[RunPublic]
    next_cursor: str | None


class QuotaPublic(BaseModel):
    limit: int
    remaining: int
    window_seconds: int
    resets_at: str
    retry_after_seconds: int


class RepositoryPublic(BaseModel):
    """A project's repository as this server reads it; never a secret (only whether credentials are set)."""

    kind: str  # path | https | http | ssh | scp | git | file
    display: str
    remote: bool
    has_credentials: bool
    credentials_kind: str | None = None
    fetched_at: datetime | None = None  # the mirror's last good fetch (remote only)
    fetch_seconds: float | None = None
    error: str | None = None  # the last fetch's error, redacted
    error_code: str | None = None  # auth_failed | not_found | unreachable | timeout | host_key_unknown | ...


class BranchPublic(BaseModel):
    name: str
    commit: str
    committed_at: int
    subject: str
    is_base: bool
    busy_run_id: str | None = None
