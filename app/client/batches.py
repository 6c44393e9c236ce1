"""The matrix batch part of the API client: POST /runs/batch (one run per depth x framework under one key) and
GET /runs/batch/{id}, shared by the Run form, the batch page and `runboard runs trigger --matrix`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


class BatchesApi:
    async def request(  # RunboardClient.request
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict | None = None,
        headers: dict[str, str] | None = None,
        correlation_id: str | None = None,
    ) -> Any:
        raise NotImplementedError

    async def trigger_batch(
        self,
        *,
        project_id: str,
        branch: str,
        depth_levels: list[str],
        target_frameworks: list[str],
        key: str,
        all_or_nothing: bool = False,
        correlation_id: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> Any:
        """The batch answer (a Response: 201 made now, 200 + Idempotent-Replayed for a resend), each child
        admitted with its run or refused with its problem. Resend with the same key to admit the missing ones."""
        body = {
            'project_id': project_id,
            'branch': branch,
            'matrix': {'depth_level': depth_levels, 'target_framework': target_frameworks},
            'mode': 'all_or_nothing' if all_or_nothing else 'best_effort',
            **({'variables': variables} if variables else {}),
        }
        return await self.request(
            'POST', '/runs/batch', json_body=body, headers={'Idempotency-Key': key}, correlation_id=correlation_id
        )

    async def get_batch(self, batch_id: str) -> dict:
        return (await self.request('GET', f'/runs/batch/{quote(batch_id, safe="")}')).data
