"""Projects: list, read, branches, create / update / delete with their checks."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.helpers.api import assert_problem, run_body


def _commit_on(repo, branch: str) -> None:  # noqa: ANN001
    ident = ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid']
    subprocess.run(['git', 'checkout', '-q', branch], cwd=repo, check=True)
    subprocess.run(['git', *ident, 'commit', '-q', '--allow-empty', '-m', f'newer on {branch}'], cwd=repo, check=True)
    subprocess.run(['git', 'checkout', '-q', 'main'], cwd=repo, check=True)


def test_list_and_read(api) -> None:  # noqa: ANN001
    listed = api.client.get('/api/projects').json()
    assert [p['id'] for p in listed] == ['proj']
    project = api.client.get('/api/projects/proj').json()
    assert project == listed[0]
    assert project['command'] == ['sh', 'run.sh'] and project['base_branch'] == 'main'
    assert project['depth_levels'] and project['target_frameworks'] and project['active_runs'] == 0
    api.client.post('/api/runs', json=run_body())
    assert api.client.get('/api/projects/proj').json()['active_runs'] == 1
    assert_problem(api.client.get('/api/projects/nope'), 404, 'not_found')


def test_branches_newest_first_with_base_and_busy_marks(api) -> None:  # noqa: ANN001
    time.sleep(1.05)  # commit times have one-second resolution
    _commit_on(api.repo, 'feature/b')
    run = api.client.post('/api/runs', json=run_body(branch='feature/a')).json()
    branches = api.client.get('/api/projects/proj/branches').json()
    names = [b['name'] for b in branches]
    assert sorted(names) == sorted(['main', 'feature/a', 'feature/b', 'feature/c'])
    assert names[0] == 'feature/b'
    assert [b['committed_at'] for b in branches] == sorted((b['committed_at'] for b in branches), reverse=True)
    by_name = {b['name']: b for b in branches}
    assert by_name['main']['is_base'] and not any(b['is_base'] for n, b in by_name.items() if n != 'main')
    assert by_name['feature/a']['busy_run_id'] == run['id']
    assert all(b['busy_run_id'] is None for n, b in by_name.items() if n != 'feature/a')
    assert by_name['feature/b']['subject'] == 'newer on feature/b' and len(by_name['main']['commit']) == 40
    # a branch made just now is listed (and can be run) at once
    subprocess.run(['git', 'branch', 'fresh'], cwd=api.repo, check=True)
    assert 'fresh' in [b['name'] for b in api.client.get('/api/projects/proj/branches').json()]
    assert api.client.post('/api/runs', json=run_body(branch='fresh')).status_code == 201


def test_create_checks_repository_base_branch_and_command(api, tmp_path) -> None:  # noqa: ANN001
    good = {'id': 'second', 'name': 'Second', 'repository': str(api.repo), 'command': ['sh', 'run.sh']}
    cases = [
        ({'repository': str(tmp_path / 'missing')}, 'repository'),
        ({'repository': str(tmp_path)}, 'repository'),  # a directory that is not a git repository
        ({'repository': '--upload-pack=touch /tmp/x://y'}, 'repository'),
        # kinds runs cannot use are refused now, not with a 502 at every branch list and trigger
        ({'repository': 'ext::sh -c touch% /tmp/x'}, 'repository'),
        ({'repository': 'file:///nonexistent/repo.git'}, 'repository'),
        ({'repository': 'relative/path'}, 'repository'),
        ({'base_branch': 'trunk'}, 'base_branch'),
        ({'command': []}, 'command'),
        ({'command': 'sh run.sh'}, 'command'),
        ({'command': ['sh', '']}, 'command'),
        ({'id': 'Not A Slug'}, 'id'),
        ({'depth_levels': []}, 'depth_levels'),
        ({'max_concurrent_runs': 0}, 'max_concurrent_runs'),
        ({'owner': 'me'}, 'owner'),
    ]
    for change, field in cases:
        reply = api.client.post('/api/projects', json={**good, **change})
        problem = assert_problem(reply, 422, 'unsupported_repository' if field == 'repository' else 'validation')
        assert problem['field'] == field, (change, problem)
    patched = api.client.patch('/api/projects/proj', json={'repository': 'ext::sh -c touch% /tmp/x'})
    assert assert_problem(patched, 422, 'unsupported_repository')['field'] == 'repository'
    assert [p['id'] for p in api.client.get('/api/projects').json()] == ['proj']
    created = api.client.post('/api/projects', json={**good, 'depth_levels': ['quick'], 'max_concurrent_runs': 3})
    assert created.status_code == 201, created.text
    assert created.json()['depth_levels'] == ['quick'] and created.json()['repository_key']
    assert_problem(api.client.post('/api/projects', json=good), 409, 'conflict')
    trigger = api.client.post('/api/runs', json=run_body('second', branch='feature/a', depth='quick'))
    assert trigger.status_code == 201, trigger.text


def test_patch_changes_what_admission_sees(api) -> None:  # noqa: ANN001
    reply = api.client.patch('/api/projects/proj', json={'depth_levels': ['only'], 'name': 'Renamed'})
    assert reply.status_code == 200, reply.text
    assert reply.json()['name'] == 'Renamed' and reply.json()['depth_levels'] == ['only']
    refused = api.client.post('/api/runs', json=run_body(depth='shallow'))
    assert assert_problem(refused, 422, 'validation')['field'] == 'depth_level'
    assert api.client.post('/api/runs', json=run_body(depth='only')).status_code == 201
    assert_problem(api.client.patch('/api/projects/proj', json={'base_branch': 'nope'}), 422, 'validation')
    assert_problem(api.client.patch('/api/projects/proj', json={'command': []}), 422, 'validation')
    assert_problem(api.client.patch('/api/projects/proj', json={'id': 'new-id'}), 422, 'validation')
    assert_problem(api.client.patch('/api/projects/nope', json={'name': 'x'}), 404, 'not_found')
    assert api.client.get('/api/projects/proj').json()['base_branch'] == 'main'


def test_delete_refuses_while_runs_are_active(api) -> None:  # noqa: ANN001
    run = api.client.post('/api/runs', json=run_body()).json()
    problem = assert_problem(api.client.delete('/api/projects/proj'), 409, 'project_busy')
    assert problem['blocking_runs'] == [run['id']]
    api.client.post(f'/api/runs/{run["id"]}/stop')
    assert api.client.delete('/api/projects/proj').status_code == 204
    assert_problem(api.client.get('/api/projects/proj'), 404, 'not_found')
    assert_problem(api.client.get(f'/api/runs/{run["id"]}'), 404, 'not_found')
    # admission learns at once that it is gone
    assert_problem(api.client.post('/api/runs', json=run_body()), 404, 'not_found')
    assert_problem(api.client.delete('/api/projects/proj'), 404, 'not_found')


@pytest.mark.parametrize(
    'repository, reason_word',
    [
        ('ext::sh -c touch% /tmp/pwned', 'not allowed'),
        ('fd::17', 'not allowed'),
        ('--upload-pack=touch /tmp/pwned', 'option'),
        ('https://user:secret-token@example.org/org/app.git', 'credentials'),
        ('relative/path', 'relative'),
        ('file:///nonexistent/repo.git', 'not found'),
    ],
)
def test_a_repository_runs_cannot_use_is_refused_at_creation(api, repository: str, reason_word: str) -> None:  # noqa: ANN001
    created = api.client.post(
        '/api/projects', json={'id': 'remote', 'name': 'Remote', 'repository': repository, 'command': ['sh', 'run.sh']}
    )
    problem = assert_problem(created, 422, 'unsupported_repository')
    assert problem['field'] == 'repository' and reason_word in problem['detail'].lower()
    assert 'secret-token' not in created.text
    assert_problem(api.client.get('/api/projects/remote'), 404, 'not_found')


def test_revision_syntax_is_not_a_branch(api) -> None:  # noqa: ANN001
    """Only real branch names pass the existence check: `main^` (main's parent) or `main@{0}` do not."""
    for name in ('main^', 'main~1', 'main@{0}', 'HEAD', 'refs/heads/main'):
        reply = api.client.post('/api/runs', json=run_body(branch=name))
        assert reply.status_code == 422, (name, reply.text)
    assert api.client.post('/api/runs', json=run_body(branch='main')).status_code == 201
