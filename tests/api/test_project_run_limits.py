"""A project's own memory and CPU limits for its runs (docs/security.md): lower than the deployment's always, higher
only up to RUNBOARD_RUN_MEMORY_MAX_ALLOWED and RUNBOARD_RUN_CPUS_ALLOWED (422 memory_limit_not_allowed,
cpu_limit_not_allowed past them, as problem+json), null the server's again."""

from __future__ import annotations

import pytest

from tests.helpers.runs import create_project
from tests.helpers.servers import api_server

GIB = 1024**3


@pytest.mark.parametrize('allowed', [None, 8 * GIB])
def test_a_projects_memory_limit_within_what_the_deployment_allows(
    backend, allowed, settings_factory, repo_factory
) -> None:  # noqa: ANN001
    settings = settings_factory(run_memory_max=2 * GIB, run_memory_max_allowed=allowed)
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo_factory())
        lower = client.patch('/api/projects/proj', json={'run_memory_max': GIB})
        assert lower.status_code == 200 and lower.json()['run_memory_max'] == GIB
        higher = client.patch('/api/projects/proj', json={'run_memory_max': 4 * GIB})
        past = client.patch('/api/projects/proj', json={'run_memory_max': 16 * GIB})
        kept = client.get('/api/projects/proj').json()['run_memory_max']
        again = client.patch('/api/projects/proj', json={'run_memory_max': None})
        body = {'id': 'big', 'name': 'Big', 'repository': str(repo_factory()), 'command': ['true']}
        made = client.post('/api/projects', json={**body, 'run_memory_max': 16 * GIB})
    if allowed:
        assert higher.status_code == 200 and higher.json()['run_memory_max'] == 4 * GIB
    else:
        assert higher.status_code == 422 and higher.json()['error'] == 'memory_limit_not_allowed'
        assert 'a project may lower it' in higher.json()['detail']
    assert past.status_code == 422 and past.headers['content-type'].startswith('application/problem+json')
    assert past.json()['error'] == 'memory_limit_not_allowed' and past.json().get('correlation_id')
    assert kept == (4 * GIB if allowed else GIB)  # a refused change changed nothing
    assert again.status_code == 200 and again.json()['run_memory_max'] is None
    assert made.status_code == 422 and made.json()['error'] == 'memory_limit_not_allowed'


@pytest.mark.parametrize('allowed', [None, 4.0])
def test_a_projects_cpu_limit_within_what_the_deployment_allows(
    backend, allowed, settings_factory, repo_factory
) -> None:  # noqa: ANN001
    settings = settings_factory(run_cpus=1.5, run_cpus_allowed=allowed)
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo_factory())
        lower = client.patch('/api/projects/proj', json={'run_cpus': 0.5})
        higher = client.patch('/api/projects/proj', json={'run_cpus': 3})
        past = client.patch('/api/projects/proj', json={'run_cpus': 16})
        kept = client.get('/api/projects/proj').json()['run_cpus']
        too_small = client.patch('/api/projects/proj', json={'run_cpus': 0.001})
        again = client.patch('/api/projects/proj', json={'run_cpus': None})
    assert lower.status_code == 200 and lower.json()['run_cpus'] == 0.5
    if allowed:
        assert higher.status_code == 200
    else:
        assert higher.status_code == 422 and higher.json()['error'] == 'cpu_limit_not_allowed'
        assert higher.json()['detail'].startswith("run_cpus: at most 1.5 CPUs, the deployment's RUNBOARD_RUN_CPUS")
    assert past.status_code == 422 and past.headers['content-type'].startswith('application/problem+json')
    assert past.json()['error'] == 'cpu_limit_not_allowed' and past.json().get('correlation_id')
    assert kept == (3 if allowed else 0.5)  # a refused change changed nothing
    assert too_small.status_code == 422  # below the kernel's smallest quota
    assert again.status_code == 200 and again.json()['run_cpus'] is None
