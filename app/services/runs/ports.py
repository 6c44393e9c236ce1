"""The seams between services, as Protocols: what a caller needs from the rate limiter (memory or Redis),
the event bus (in-process or Redis pub/sub) and the branch source (a repository's branches, cached), so a
second implementation (another executor, a remote repository's mirror) plugs in without touching callers."""

from __future__ import annotations

from typing import Any, Protocol

from app.services.repositories.gitops import Branch
from app.services.runs.ratelimit import Quota

__all__ = ['BranchSource', 'EventPublisher', 'Quota', 'RateLimiter']


class RateLimiter(Protocol):
    def acquire(self, key: str, member: str) -> Quota: ...

    def release(self, key: str, member: str) -> None: ...

    def peek(self, key: str) -> Quota: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


class EventPublisher(Protocol):
    def publish(self, event: dict[str, Any]) -> None: ...


class BranchSource(Protocol):
    def exists(self, repository: str, branch: str) -> bool: ...

    def get(self, repository: str) -> list[Branch]: ...

    def search(self, repository: str, query: str, limit: int, base: str | None = None) -> list[Branch]: ...
