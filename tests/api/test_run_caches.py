"""Run caches on every backend (docs/pipelines.md, "Caches"): $RUNBOARD_CACHE_DIR outlives a run, so the next run
of the base branch finds what the last one left; another branch's runs have a cache of their own and never touch
the base branch's; the project's caches answer their sizes on this server; a clear (by any member of the team,
audited) makes every next run start empty; another team sees nothing of them; `runboard projects caches` shows
and clears them."""

from __future__ import annotations

import re

from app.models import Role
from tests.helpers.api import add_user, assert_problem
from tests.helpers.cli import run_cli
from tests.helpers.runs import create_project, shell_script, trigger, wait_for_status
from tests.helpers.servers import api_server

COUNTS = shell_script(
    'n=$(cat "$RUNBOARD_CACHE_DIR/count" 2>/dev/null || echo 0)\n'
    'n=$((n + 1))\n'
    'echo "$n" > "$RUNBOARD_CACHE_DIR/count"\n'
    'echo "cache count $n"'
)


def count_of(client, branch: str, key: str) -> int:  # noqa: ANN001
    run = wait_for_status(client, trigger(client, branch=branch, key=key).json()['id'], timeout=60)
    assert run['status'] == 'succeeded', run
    log = client.get(f'/api/runs/{run["id"]}/log').text
    found = re.search(r'cache count (\d+)', log)
    assert found, log
    return int(found.group(1))


def test_a_cache_outlives_runs_stays_per_branch_kind_and_clears(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': COUNTS, 'feature/x': COUNTS})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        assert [count_of(client, 'main', f'main-{n}') for n in range(2)] == [1, 2]  # the second found the first's
        assert count_of(client, 'feature/x', 'feature-1') == 1  # the other branches' cache, not the base's
        assert count_of(client, 'main', 'main-3') == 3  # the base's, untouched by the branch

        caches = client.get('/api/projects/proj/caches').json()
        first = caches['generation']  # a number of its own for each project made
        assert caches['cleared_at'] is None and caches['executor'] == 'local'
        assert caches['sizes'] == {'base': 2, 'branches': 2}  # "3\n" and "1\n"

        bob = add_user(server, role=Role.builder)  # a builder of the team may clear them
        with server.client(bob) as builder:
            cleared = builder.post('/api/projects/proj/caches/clear')
        assert cleared.status_code == 200, cleared.text
        answer = cleared.json()
        assert answer['generation'] == first + 1 and answer['cleared_at'] and answer['sizes'] == {}
        assert count_of(client, 'main', 'main-4') == 1  # started empty
        assert count_of(client, 'feature/x', 'feature-2') == 1
        audit = client.get('/api/audit', params={'action': 'project.caches_cleared'}).json()['items']
        assert [(entry['actor_name'], entry['target']) for entry in audit] == [('bob', 'proj')]

        other = add_user(server, team='others', name='eve')
        with server.client(other) as stranger:
            assert_problem(stranger.get('/api/projects/proj/caches'), 404, 'not_found')
            assert_problem(stranger.post('/api/projects/proj/caches/clear'), 404, 'not_found')
        assert client.get('/api/projects/proj/caches').json()['generation'] == first + 1

        shown = run_cli(server.base_url, server.token, 'projects', 'caches', 'proj')
        assert shown.code == 0, shown
        assert re.search(r'base\s+the base branch', shown.stdout) and 'Last cleared' in shown.stdout
        again = run_cli(server.base_url, server.token, 'projects', 'caches', 'proj', '--clear', '--json')
        assert again.code == 0 and again.json()['generation'] == first + 2


def test_a_project_made_again_under_a_deleted_ones_id_starts_with_empty_caches(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': COUNTS})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        assert count_of(client, 'main', 'before') == 1
        caches_dir = server.services.settings.caches_dir
        assert (caches_dir / 'proj').is_dir()
        assert client.delete('/api/projects/proj').status_code == 204
        assert not (caches_dir / 'proj').exists()  # its caches went with it
        create_project(client, repo)  # the same id again (another team could take it)
        assert count_of(client, 'main', 'after') == 1
