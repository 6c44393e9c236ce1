"""The schedules part of the API client (the schedules page and `runboard schedules`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote


def _path(project_id: str, schedule_id: str | None = None) -> str:
    base = f'/projects/{quote(project_id, safe="")}/schedules'
    return base if schedule_id is None else f'{base}/{quote(schedule_id, safe="")}'


class SchedulesApi:
    async def request(  # RunboardClient.request
        self, method: str, path: str, *, params: dict | None = None, json_body: Any = None
    ) -> Any:
        raise NotImplementedError

    async def list_schedules(self, project_id: str) -> list[dict]:
        return (await self.request('GET', _path(project_id))).data

    async def get_schedule(self, project_id: str, schedule_id: str) -> dict:
        return (await self.request('GET', _path(project_id, schedule_id))).data

    async def find_schedule(self, schedule_id: str) -> dict:
        """A schedule by its id alone (its project_id says whose it is)."""
        return (await self.request('GET', f'/schedules/{quote(schedule_id, safe="")}')).data

    async def create_schedule(self, project_id: str, body: dict) -> dict:
        """body: name, cron, timezone, branch, depth_level, target_framework, catch_up (once | skip), paused."""
        return (await self.request('POST', _path(project_id), json_body=body)).data

    async def preview_schedule(self, project_id: str, cron: str, timezone: str) -> list[str]:
        """The next slots (ISO times) of a cron expression; a 422 names the bad field."""
        body = {'cron': cron, 'timezone': timezone}
        return (await self.request('POST', f'{_path(project_id)}/preview', json_body=body)).data['next']

    async def update_schedule(self, project_id: str, schedule_id: str, body: dict) -> dict:
        return (await self.request('PATCH', _path(project_id, schedule_id), json_body=body)).data

    async def pause_schedule(self, project_id: str, schedule_id: str, *, paused: bool = True) -> dict:
        action = 'pause' if paused else 'resume'
        return (await self.request('POST', f'{_path(project_id, schedule_id)}/{action}')).data

    async def delete_schedule(self, project_id: str, schedule_id: str) -> None:
        await self.request('DELETE', _path(project_id, schedule_id))

    async def schedule_firings(
        self, project_id: str, schedule_id: str, *, limit: int = 50, before: str | None = None
    ) -> list[dict]:
        """Newest slot first: admitted (run_id, run_status), skipped (reason, detail), missed."""
        params: dict[str, Any] = {'limit': limit, **({'before': before} if before else {})}
        return (await self.request('GET', f'{_path(project_id, schedule_id)}/firings', params=params)).data
