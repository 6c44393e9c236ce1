"""The log viewer's part of the API client: search a run's whole stored output."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


class LogSearchApi:
    async def request(self, method: str, path: str, *, params: dict | None = None) -> Any:  # RunboardClient.request
        raise NotImplementedError

    async def search_output(self, run_id: str, q: str, *, after: int = 0, limit: int = 1000) -> dict:
        """GET /runs/{id}/search: {'q', 'matches': [seq, ...], 'total', 'truncated'}; matches after `after`."""
        params: dict[str, Any] = {'q': q, 'limit': limit, **({'after': after} if after else {})}
        return (await self.request('GET', f'/runs/{quote(run_id, safe="")}/search', params=params)).data
