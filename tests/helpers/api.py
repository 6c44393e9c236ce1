"""Helpers for API tests: a served project, extra users, run bodies, concurrent posts, problem replies."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.models import Role
from app.services.identity.accounts import create_user, ensure_team
from tests.helpers.runs import create_project
from tests.helpers.servers import ApiServer, api_server

BRANCHES = ('main', 'feature/a', 'feature/b', 'feature/c')
QUEUED = dict(global_run_cap=0)


@dataclass
class Api:
    server: ApiServer
    client: httpx.Client
    repo: Path
    project: dict


@contextmanager
def serving(settings, repo: Path, **project_fields) -> Iterator[Api]:  # noqa: ANN001, ANN003
    with api_server(settings) as server, server.client() as client:
        project = create_project(client, repo, **project_fields)
        yield Api(server, client, repo, project)


def same_database(settings_factory, settings, **overrides):  # noqa: ANN001, ANN003, ANN201
    """Settings of a second server instance on the same database (and Redis) as `settings`."""
    return settings_factory(**{**QUEUED, **overrides, 'database_url': settings.effective_database_url})


def add_user(server: ApiServer, *, team: str = 'local', role: Role = Role.builder, name: str = 'bob') -> str:
    """A user on the server's database; returns its API token."""
    engine = server.services.engine
    ensure_team(engine, team, team.title())
    _, token = create_user(engine, name=name, role=role, team_ids=[team])
    return token


def run_body(project_id: str = 'proj', branch: str = 'main', depth: str = 'shallow', framework: str = 'python') -> dict:
    return {'project_id': project_id, 'branch': branch, 'depth_level': depth, 'target_framework': framework}


def post_all(base_urls: list[str], token: str, requests: list[tuple[str, dict, dict]]) -> list[httpx.Response]:
    """Send every (path, json, headers) at once, spread over the servers; answers in request order."""

    async def go() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
        clients = [
            httpx.AsyncClient(base_url=url, timeout=60, limits=limits, headers={'Authorization': f'Bearer {token}'})
            for url in base_urls
        ]
        try:
            return await asyncio.gather(
                *(
                    clients[i % len(clients)].post(path, json=body, headers=headers)
                    for i, (path, body, headers) in enumerate(requests)
                )
            )
        finally:
            for client in clients:
                await client.aclose()

    return asyncio.run(go())


def assert_problem(reply: httpx.Response, status: int, error: str) -> dict:
    assert reply.status_code == status, reply.text
    assert reply.headers['content-type'].startswith('application/problem+json'), reply.headers
    body = reply.json()
    assert body['error'] == error, body
    assert body['status'] == status
    assert body['correlation_id'] == reply.headers['x-correlation-id']
    assert body['type'] and body['title'] and body['detail']
    return body
