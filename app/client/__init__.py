"""Typed async httpx client of the Runboard API, shared by the UI stores and the CLI."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any, TypedDict, Unpack
from urllib.parse import quote

import httpx

from app.client.admin import AdminApi
from app.client.artifacts import ArtifactsApi
from app.client.batches import BatchesApi
from app.client.history import HistoryApi
from app.client.http import API, ApiError, Response, answer_of, new_idempotency_key
from app.client.logs import LogSearchApi
from app.client.notifications import NotificationsApi
from app.client.schedules import SchedulesApi
from app.infra.http import tls_context

__all__ = ['API', 'ApiError', 'Response', 'RunboardClient', 'answer_of', 'new_idempotency_key']


class WorkersApi:
    """The workers part of the API (executor=celery)."""

    async def request(  # RunboardClient's
        self, method: str, path: str, *, params: dict | None = None, json_body: Any = None, headers: Any = None
    ) -> Response:
        raise NotImplementedError

    async def list_workers(self) -> dict:
        return (await self.request('GET', '/workers')).data

    async def drain_worker(self, name: str, *, drain: bool = True) -> dict:
        return (await self.request('POST', f'/workers/{quote(name, safe="")}/{"drain" if drain else "undrain"}')).data

    async def remove_worker(self, name: str) -> None:
        """DELETE /workers/{name}: forget a stopped or lost worker (administrators)."""
        await self.request('DELETE', f'/workers/{quote(name, safe="")}')

    async def bulk_runs(self, body: dict, *, key: str) -> dict:
        """POST /runs/bulk: one Stop, Retry or Approve over many runs, answered per run."""
        return (await self.request('POST', '/runs/bulk', json_body=body, headers={'Idempotency-Key': key})).data

    async def audit_log(self, **filters: Any) -> dict:
        """GET /audit (operators): {'items': [...], 'next_cursor': ...}."""
        return (await self.request('GET', '/audit', params={k: v for k, v in filters.items() if v})).data

    async def about(self) -> dict:
        """Which server this is: mode, version, commit, database, executor, and who the token belongs to."""
        return (await self.request('GET', '/about')).data


class LogApi:
    """Streamed answers, read chunk by chunk rather than as one JSON document."""

    _http: httpx.AsyncClient

    async def run_log(self, run_id: str) -> AsyncIterator[bytes]:
        """The run's output as printed, streamed (GET /runs/{id}/log)."""
        async with self._http.stream('GET', f'{API}/runs/{quote(run_id, safe="")}/log') as reply:
            if reply.status_code != 200:
                await reply.aread()
                answer_of(reply)  # raises the ApiError it describes
            async for chunk in reply.aiter_bytes():
                yield chunk


class TriggerTiming(TypedDict, total=False):
    """A trigger's time fields: run_at (ISO time) or run_in ('10m') for a delayed run; ttl, how long it may
    wait queued (docs/triggers.md)."""

    run_at: str | None
    run_in: str | None
    ttl: str | int | None


class FeatureApis(  # type: ignore[misc]
    HistoryApi, LogSearchApi, AdminApi, NotificationsApi, SchedulesApi, BatchesApi, ArtifactsApi
):
    """The parts of the API client kept in their own modules (app/client/*.py). Their `request` stubs differ
    (hence the ignore); RunboardClient.request is the one they all call."""


class RunboardClient(WorkersApi, LogApi, FeatureApis):
    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
        correlation_id: str | None = None,
    ) -> None:
        """correlation_id: sent on every request of this client (e.g. one CLI command), so even an error
        without a server answer names the id the server logs would carry."""
        headers = {'Accept': 'application/json'}
        if token:
            headers['Authorization'] = f'Bearer {token}'
        if correlation_id:
            headers['X-Correlation-ID'] = correlation_id
        self.correlation_id = correlation_id
        self.base_url = base_url.rstrip('/')
        self._http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport, verify=tls_context()
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> RunboardClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict | None = None,
        headers: dict[str, str] | None = None,
        correlation_id: str | None = None,
    ) -> Response:
        sent_headers = dict(headers or {})
        if correlation_id:
            sent_headers['X-Correlation-ID'] = correlation_id
        correlation_id = correlation_id or self.correlation_id
        if self._http.is_closed:  # the UI process is shutting down while a page still reacts to an event
            raise ApiError(0, 'closed', 'This Runboard process is shutting down.', correlation_id)
        try:
            reply = await self._http.request(method, API + path, json=json_body, params=params, headers=sent_headers)
        except httpx.TimeoutException as exc:
            raise ApiError(0, 'timeout', 'The server did not answer in time.', correlation_id) from exc
        except httpx.TransportError as exc:
            raise ApiError(
                0,
                'network',
                f'Could not reach the Runboard server at {self.base_url}: it may be restarting or offline.',
                correlation_id,
            ) from exc
        return answer_of(reply)

    # -- projects
    async def list_projects(self) -> list[dict]:
        return (await self.request('GET', '/projects')).data

    async def get_project(self, project_id: str) -> dict:
        return (await self.request('GET', f'/projects/{quote(project_id, safe="")}')).data

    async def create_project(self, body: dict) -> dict:
        return (await self.request('POST', '/projects', json_body=body)).data

    async def update_project(self, project_id: str, body: dict) -> dict:
        return (await self.request('PATCH', f'/projects/{quote(project_id, safe="")}', json_body=body)).data

    async def repository(self, project_id: str) -> dict[str, Any]:
        return (await self.request('GET', f'/projects/{quote(project_id, safe="")}/repository')).data

    async def refresh_repository(self, project_id: str) -> dict[str, Any]:
        return (await self.request('POST', f'/projects/{quote(project_id, safe="")}/repository/refresh')).data

    async def branches(self, project_id: str, *, q: str = '', limit: int = 100) -> list[dict]:
        """The branches whose name contains q (newest first, the base branch always among them)."""
        params = {'limit': limit, **({'q': q} if q else {})}
        return (await self.request('GET', f'/projects/{quote(project_id, safe="")}/branches', params=params)).data

    # -- a project's variables and secrets (kind: 'variables' | 'secrets')
    async def list_variables(self, project_id: str, kind: str) -> list[dict]:
        return (await self.request('GET', f'/projects/{quote(project_id, safe="")}/{kind}')).data

    async def set_variable(
        self, project_id: str, kind: str, name: str, value: str, *, protected: bool | None = None
    ) -> dict:
        """`protected` None: as it was (a new one: not protected)."""
        path = f'/projects/{quote(project_id, safe="")}/{kind}/{quote(name, safe="")}'
        body: dict = {'value': value} | ({} if protected is None else {'protected': protected})
        return (await self.request('PUT', path, json_body=body)).data

    async def remove_variable(self, project_id: str, kind: str, name: str) -> None:
        await self.request('DELETE', f'/projects/{quote(project_id, safe="")}/{kind}/{quote(name, safe="")}')

    # -- tokens (operators)
    async def list_tokens(self) -> list[dict]:
        return (await self.request('GET', '/tokens')).data

    async def revoke_token(self, token_id: str) -> dict:
        return (await self.request('DELETE', f'/tokens/{quote(token_id, safe="")}')).data

    async def revoke_user_tokens(self, user: str) -> dict:
        return (await self.request('POST', '/tokens/revoke', params={'user': user})).data

    # -- runs
    async def trigger_run(
        self,
        *,
        project_id: str,
        branch: str,
        depth_level: str,
        target_framework: str,
        key: str,
        correlation_id: str | None = None,
        variables: dict[str, str] | None = None,
        **timing: Unpack[TriggerTiming],
    ) -> Response:
        body = {
            'project_id': project_id,
            'branch': branch,
            'depth_level': depth_level,
            'target_framework': target_framework,
            **{name: value for name, value in timing.items() if value is not None},
            **({'variables': variables} if variables else {}),
        }
        return await self.request(
            'POST', '/runs', json_body=body, headers={'Idempotency-Key': key}, correlation_id=correlation_id
        )

    async def retry_run(
        self, run_id: str, *, key: str, overrides: dict | None = None, correlation_id: str | None = None
    ) -> Response:
        body = {k: v for k, v in (overrides or {}).items() if v}
        return await self.request(
            'POST',
            f'/runs/{quote(run_id, safe="")}/retry',
            json_body=body,
            headers={'Idempotency-Key': key},
            correlation_id=correlation_id,
        )

    async def stop_run(self, run_id: str) -> dict:
        return (await self.request('POST', f'/runs/{quote(run_id, safe="")}/stop')).data

    async def approve_run(self, run_id: str) -> dict:
        return (await self.request('POST', f'/runs/{quote(run_id, safe="")}/approve')).data

    async def list_runs(self, **filters: Any) -> dict:
        params = {k: v for k, v in filters.items() if v not in (None, '', [])}
        return (await self.request('GET', '/runs', params=params)).data

    async def get_run(self, run_id: str, *, events_limit: int = 2000) -> dict:
        return (
            await self.request('GET', f'/runs/{quote(run_id, safe="")}', params={'events_limit': events_limit})
        ).data

    async def run_events(self, run_id: str, *, after: int = 0, limit: int = 1000) -> list[dict]:
        return (
            await self.request('GET', f'/runs/{quote(run_id, safe="")}/events', params={'after': after, 'limit': limit})
        ).data

    async def quota(self) -> dict:
        return (await self.request('GET', '/quota/runs')).data

    # -- AFK and issues
    async def afk(self, action: str, project_id: str, body: dict | None = None) -> dict:
        return (
            await self.request('POST', f'/afk/{quote(action, safe="")}/{quote(project_id, safe="")}', json_body=body)
        ).data

    async def list_issues(self, project_id: str) -> list[dict]:
        return (await self.request('GET', f'/projects/{quote(project_id, safe="")}/issues')).data

    async def add_issue(self, project_id: str, body: dict) -> dict:
        return (await self.request('POST', f'/projects/{quote(project_id, safe="")}/issues', json_body=body)).data

    async def update_issue(self, project_id: str, number: int, body: dict) -> dict:
        return (
            await self.request('PATCH', f'/projects/{quote(project_id, safe="")}/issues/{number}', json_body=body)
        ).data

    async def start_afk(self, project_id: str) -> dict:
        return (await self.request('POST', f'/afk/start/{quote(project_id, safe="")}')).data

    async def set_auto(self, project_id: str, enabled: bool) -> dict:
        return (
            await self.request('POST', f'/afk/auto/{quote(project_id, safe="")}', json_body={'enabled': enabled})
        ).data

    async def reset_afk(self, project_id: str) -> dict:
        return (await self.request('POST', f'/afk/reset/{quote(project_id, safe="")}')).data

    async def afk_form_token(self, project_id: str) -> str:
        """CSRF token for the plain-HTML Reset form of one project (operators)."""
        return (await self.request('POST', f'/afk/form-token/{quote(project_id, safe="")}')).data['csrf_token']

    async def afk_summary(self, project_id: str, *, since: str | None = None) -> dict:
        """What the AFK loop did since `since` (12h, 2d, an ISO time; default: the last 24 hours)."""
        params = {'since': since} if since else None
        return (await self.request('GET', f'/projects/{quote(project_id, safe="")}/afk/summary', params=params)).data

    async def parked_issues(self, project_id: str) -> list[dict]:
        return (await self.request('GET', f'/afk/parked/{quote(project_id, safe="")}')).data

    async def requeue_issue(self, project_id: str, number: int) -> dict:
        return (await self.request('POST', f'/afk/parked/{quote(project_id, safe="")}/{number}/requeue')).data

    async def discard_issue(self, project_id: str, number: int) -> dict:
        return (await self.request('POST', f'/afk/parked/{quote(project_id, safe="")}/{number}/discard')).data

    # -- live changes
    async def events(
        self, *, project: str | None = None, run: str | None = None, on_open: Callable[[], Any] | None = None
    ) -> AsyncIterator[dict]:
        """Server-sent change events, forever (until the caller stops iterating or the connection drops).
        on_open() is called once the server has accepted the stream (before any event arrives)."""
        params = {k: v for k, v in {'project': project, 'run': run}.items() if v}
        try:
            async with self._http.stream(
                'GET', API + '/events', params=params, timeout=httpx.Timeout(10.0, read=None)
            ) as reply:
                if reply.status_code >= 400:
                    await reply.aread()
                    answer_of(reply)  # raises the ApiError the problem describes
                if on_open is not None:
                    on_open()
                async for line in reply.aiter_lines():
                    if line.startswith('data: '):
                        yield json.loads(line[6:])
        except httpx.TransportError as exc:
            raise ApiError(0, 'network', f'Lost the event stream: {type(exc).__name__}.', self.correlation_id) from exc
