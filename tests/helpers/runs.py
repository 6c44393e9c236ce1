"""Small helpers shared by API, engine and CLI tests."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.helpers.servers import api_server

ACTIVE = ('queued', 'running', 'delayed')  # not ended (a delayed run waits for its time)


def shell_script(body: str) -> dict[str, str]:
    return {'run.sh': '#!/bin/sh\n' + body + '\n'}


def create_project(
    client: httpx.Client, repo: Path, *, project_id: str = 'proj', command: list[str] | None = None, **fields
) -> dict:  # noqa: ANN003
    body = {
        'id': project_id,
        'name': project_id.title(),
        'repository': str(repo),
        'base_branch': 'main',
        'command': command or ['sh', 'run.sh'],
        **fields,
    }
    reply = client.post('/api/projects', json=body)
    assert reply.status_code == 201, reply.text
    return reply.json()


def trigger(
    client: httpx.Client,
    project_id: str = 'proj',
    *,
    branch: str = 'main',
    depth: str = 'shallow',
    framework: str = 'python',
    key: str | None = None,
) -> httpx.Response:
    headers = {'Idempotency-Key': key} if key else {}
    return client.post(
        '/api/runs',
        json={'project_id': project_id, 'branch': branch, 'depth_level': depth, 'target_framework': framework},
        headers=headers,
    )


def wait_for_status(client: httpx.Client, run_id: str, statuses=None, timeout: float = 30) -> dict:  # noqa: ANN001
    """Poll until the run reaches one of `statuses` (default: any terminal status)."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f'/api/runs/{run_id}').json()
        if (run['status'] in statuses) if statuses else run['status'] not in ACTIVE:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f'run {run_id} still {run["status"]} after {timeout}s')
        time.sleep(0.05)


PYTHON = sys.executable


def wait_for_output(client: httpx.Client, run_id: str, text: str, timeout: float = 30) -> dict:
    """Poll until an output line equal to `text` is stored; returns the run with its events."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f'/api/runs/{run_id}').json()
        if any(e['type'] == 'output' and e['text'] == text for e in run['events']):
            return run
        if run['status'] not in ACTIVE or time.monotonic() > deadline:
            raise AssertionError(f'run {run_id} ({run["status"]}) never printed {text!r}: {run["events"]}')
        time.sleep(0.05)


def outputs(run: dict) -> list[str]:
    return [e['text'] for e in run['events'] if e['type'] == 'output']


def statuses(run: dict) -> list[str]:
    return [e['text'] for e in run['events'] if e['type'] == 'status']


@contextmanager
def serving_held_run(
    settings_factory: Callable[..., Any], repo_factory: Callable[..., Path], tmp_path: Path, before: str
) -> Iterator[tuple[httpx.Client, Path]]:
    """A server with project `proj` whose run runs `before`, then waits until the yielded `release` file exists (in
    a folder the run sandbox shows read-only: its /tmp is private). Released at the end, whatever the test did."""
    release = tmp_path / 'gates' / 'release'
    release.parent.mkdir()
    repo = repo_factory({'main': shell_script(f'{before}\nwhile [ ! -f {release} ]; do sleep 0.05; done')})
    with api_server(settings_factory(sandbox_read_only_paths=str(release.parent))) as server, server.client() as client:
        create_project(client, repo)
        try:
            yield client, release
        finally:
            release.touch()
