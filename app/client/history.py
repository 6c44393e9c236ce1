"""The run-history part of the API client (charts, sparklines, `runboard projects history`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

BATCH_PROJECTS = 100  # the most GET /history answers for at once


class HistoryApi:
    async def request(self, method: str, path: str, *, params: dict | None = None) -> Any:  # RunboardClient.request
        raise NotImplementedError

    async def project_history(
        self, project_id: str, *, branch: str | None = None, limit: int = 50, days: int = 30, utc_offset: int = 0
    ) -> dict:
        """The project's newest finished runs (newest first) and its finished runs per day by outcome."""
        params: dict[str, Any] = {'limit': limit, 'days': days, 'utc_offset': utc_offset}
        if branch:
            params['branch'] = branch
        return (await self.request('GET', f'/projects/{quote(project_id, safe="")}/history', params=params)).data

    async def recent_runs(self, project_ids: Sequence[str], *, limit: int = 20) -> dict[str, list[dict]]:
        """project id -> its newest `limit` finished runs (newest first), for many projects in one request;
        projects the caller cannot see are missing."""
        chunks = [project_ids[i : i + BATCH_PROJECTS] for i in range(0, len(project_ids), BATCH_PROJECTS)]
        answers = await asyncio.gather(
            *(self.request('GET', '/history', params={'project': ','.join(chunk), 'limit': limit}) for chunk in chunks)
        )
        return {item['project_id']: item['runs'] for answer in answers for item in answer.data['items']}
