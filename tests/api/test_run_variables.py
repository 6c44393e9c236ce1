"""Variables given to one run when it is triggered (GitLab's "Run pipeline" variables, GitHub's workflow_dispatch
inputs), on every backend: in the run's environment over the project's of the same name, answered with the run,
kept by its retries, part of what an idempotency key binds; a bad name or value is a clear 422."""

from __future__ import annotations

import pytest

from tests.helpers.api import add_user, assert_problem, run_body
from tests.helpers.runs import create_project, shell_script, wait_for_status
from tests.helpers.servers import api_server

SCRIPT = 'echo "greeting=$GREETING target=$TARGET region=$REGION"\n[ "$TARGET" != production ]'  # production: fails


def outputs(run: dict) -> list[str]:
    return [e['text'] for e in run['events'] if e['type'] == 'output']


def test_a_runs_variables_reach_its_command_over_the_projects_and_its_retries_keep_them(
    settings_factory, repo_factory
) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script(SCRIPT)})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        for name, value in (('TARGET', 'staging'), ('REGION', 'eu')):
            assert client.put(f'/api/projects/proj/variables/{name}', json={'value': value}).status_code == 201

        body = {**run_body(), 'variables': {'TARGET': 'production', 'GREETING': 'hello world'}}
        made = client.post('/api/runs', json=body, headers={'Idempotency-Key': 'vars-1'})
        assert made.status_code == 201, made.text
        assert made.json()['variables'] == {'GREETING': 'hello world', 'TARGET': 'production'}
        run = wait_for_status(client, made.json()['id'], ('failed',), timeout=60)
        assert 'greeting=hello world target=production region=eu' in outputs(run)  # the run's over the project's
        assert run['variables'] == {'GREETING': 'hello world', 'TARGET': 'production'}
        listed = client.get('/api/runs', params={'project': 'proj'}).json()['items']
        assert listed[0]['variables'] is None  # not read in lists: absent, not "none"

        # the same key with other variables is another request; with the same ones, a replay
        other = client.post(
            '/api/runs', json={**body, 'variables': {'TARGET': 'staging'}}, headers={'Idempotency-Key': 'vars-1'}
        )
        assert_problem(other, 422, 'idempotency_key_mismatch')
        again = client.post('/api/runs', json=body, headers={'Idempotency-Key': 'vars-1'})
        assert again.status_code == 200 and again.json()['id'] == run['id']

        retried = client.post(f'/api/runs/{run["id"]}/retry')
        assert retried.status_code == 201, retried.text
        retry = wait_for_status(client, retried.json()['id'], ('failed',), timeout=60)
        assert retry['variables'] == run['variables']
        assert 'greeting=hello world target=production region=eu' in outputs(retry)

        plain = client.post('/api/runs', json=run_body())
        assert plain.status_code == 201 and plain.json()['variables'] == {}
        run = wait_for_status(client, plain.json()['id'], ('succeeded',), timeout=60)
        assert 'greeting= target=staging region=eu' in outputs(run)


def test_a_matrix_batch_gives_its_variables_to_every_run(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script(SCRIPT)})
    with api_server(settings_factory(max_concurrent_runs=4)) as server, server.client() as client:
        create_project(client, repo, depth_levels=['shallow', 'deep'])
        body = {
            'project_id': 'proj',
            'branch': 'main',
            'matrix': {'depth_level': ['shallow', 'deep'], 'target_framework': ['python']},
            'variables': {'GREETING': 'hi', 'TARGET': 'staging'},
        }
        made = client.post('/api/runs/batch', json=body, headers={'Idempotency-Key': 'vars-batch'})
        assert made.status_code == 201, made.text
        batch = made.json()
        assert batch['variables'] == {'GREETING': 'hi', 'TARGET': 'staging'}
        for child in batch['children']:
            run = wait_for_status(client, child['run']['id'], ('succeeded',), timeout=60)
            assert run['variables'] == batch['variables']
            assert 'greeting=hi target=staging region=' in outputs(run)
        # the key binds the variables too; the same request replays the batch
        other = {**body, 'variables': {'TARGET': 'production'}}
        mismatch = client.post('/api/runs/batch', json=other, headers={'Idempotency-Key': 'vars-batch'})
        assert_problem(mismatch, 422, 'idempotency_key_mismatch')
        again = client.post('/api/runs/batch', json=body, headers={'Idempotency-Key': 'vars-batch'})
        assert again.status_code == 200 and again.json()['id'] == batch['id']
        refused = client.post('/api/runs/batch', json={**body, 'variables': {'RUNBOARD_X': '1'}})
        assert assert_problem(refused, 422, 'validation')['field'] == 'variables'
        assert client.get(f'/api/runs/batch/{batch["id"]}').json()['variables'] == batch['variables']


@pytest.mark.parametrize(
    ('variables', 'said'),
    [
        ({'1ST': 'x'}, "'1ST' is not a name"),
        ({'A-B': 'x'}, "'A-B' is not a name"),
        ({'RUNBOARD_RUN_ID': 'forged'}, 'RUNBOARD_RUN_ID is not yours to set'),
        ({'A': 'nul\x00'}, 'the value of A holds a NUL character'),
        ({'A': 'x' * 10_001}, 'the value of A is longer than 10,000 characters'),
        ({f'V{i}': 'x' for i in range(51)}, 'at most 50 a run, not 51'),
    ],
)
def test_bad_variables_are_refused_naming_the_field(api, variables: dict, said: str) -> None:  # noqa: ANN001
    refused = api.client.post('/api/runs', json={**run_body(), 'variables': variables})
    problem = assert_problem(refused, 422, 'validation')
    assert said in problem['detail'] and problem['field'] == 'variables'


def test_variables_must_be_strings(api) -> None:  # noqa: ANN001
    refused = api.client.post('/api/runs', json={**run_body(), 'variables': {'A': {'nested': 1}}})
    assert_problem(refused, 422, 'validation')


def test_a_builder_sets_no_variables_on_a_protected_branch(api) -> None:  # noqa: ANN001
    """A run of a protected branch is given its protected variables and secrets; a builder's own BASH_ENV or
    LD_PRELOAD would run their code beside them, so only operators set a run's own variables there (as GitLab keeps
    pipeline variables to maintainers). Elsewhere a builder still may."""
    by_operator = api.client.post('/api/runs', json={**run_body(branch='main'), 'variables': {'A': 'b'}})
    assert by_operator.status_code == 201, by_operator.text
    api.client.post(f'/api/runs/{by_operator.json()["id"]}/stop')  # the branch is free again for the builder's
    with api.server.client(add_user(api.server, name='bob')) as builder:
        for path, body in (
            ('/api/runs', {**run_body(branch='main'), 'variables': {'BASH_ENV': '/tmp/x'}}),
            (
                '/api/runs/batch',
                {
                    'project_id': 'proj',
                    'branch': 'main',
                    'matrix': {'depth_level': ['shallow'], 'target_framework': ['python']},
                    'variables': {'LD_PRELOAD': '/tmp/x.so'},
                },
            ),
        ):
            problem = assert_problem(builder.post(path, json=body), 403, 'forbidden')
            assert "protected branch 'main'" in problem['detail'] and problem['field'] == 'variables', path
        assert builder.post('/api/runs', json=run_body(branch='main')).status_code == 201  # none of its own: runs
        feature = builder.post('/api/runs', json={**run_body(branch='feature/a'), 'variables': {'GREETING': 'hi'}})
        assert feature.status_code == 201, feature.text


def test_a_builder_cannot_move_their_runs_variables_to_a_protected_branch_by_a_retry(api) -> None:  # noqa: ANN001
    """A retry keeps its original's variables; a builder's from an unprotected branch, retried onto a protected
    one, would reach its protected variables and secrets (a BASH_ENV that sends them away), so that retry is
    refused as a trigger there would be. An operator's move, and a builder's retry on the same branch, still run."""
    with api.server.client(add_user(api.server, name='bob')) as builder:
        own = builder.post('/api/runs', json={**run_body(branch='feature/a'), 'variables': {'BASH_ENV': '/tmp/x'}})
        assert own.status_code == 201, own.text
        run_id = own.json()['id']
        builder.post(f'/api/runs/{run_id}/stop')

        problem = assert_problem(builder.post(f'/api/runs/{run_id}/retry', json={'branch': 'main'}), 403, 'forbidden')
        assert "protected branch 'main'" in problem['detail'] and problem['field'] == 'variables'
        assert not [r for r in api.client.get('/api/runs').json()['items'] if r['branch_name'] == 'main']

        same_branch = builder.post(f'/api/runs/{run_id}/retry', json={})
        assert same_branch.status_code == 201, same_branch.text
        assert same_branch.json()['variables'] == {'BASH_ENV': '/tmp/x'}
    by_operator = api.client.post(f'/api/runs/{run_id}/retry', json={'branch': 'main'})
    assert by_operator.status_code == 201, by_operator.text
    assert by_operator.json()['branch_name'] == 'main' and by_operator.json()['variables'] == {'BASH_ENV': '/tmp/x'}


def test_a_builders_variables_stay_off_a_branch_protected_after_their_run(api) -> None:  # noqa: ANN001
    """Protected after the run was made, the branch is as if protected before: the builder's variables are not
    retried onto it by a builder. An operator's variables are theirs to give: a builder retries such a run anywhere."""
    with api.server.client(add_user(api.server, name='bob')) as builder:
        own = builder.post('/api/runs', json={**run_body(branch='feature/a'), 'variables': {'BASH_ENV': '/tmp/x'}})
        assert own.status_code == 201, own.text
        builder.post(f'/api/runs/{own.json()["id"]}/stop')
        operators = api.client.post('/api/runs', json={**run_body(branch='feature/b'), 'variables': {'MODE': 'fast'}})
        assert operators.status_code == 201, operators.text
        api.client.post(f'/api/runs/{operators.json()["id"]}/stop')
        patched = api.client.patch('/api/projects/proj', json={'protected_branches': ['feature/*']})
        assert patched.status_code == 200, patched.text

        problem = assert_problem(builder.post(f'/api/runs/{own.json()["id"]}/retry', json={}), 403, 'forbidden')
        assert "protected branch 'feature/a'" in problem['detail'] and problem['field'] == 'variables'
        moved = builder.post(f'/api/runs/{operators.json()["id"]}/retry', json={'branch': 'main'})
        assert moved.status_code == 201, moved.text
        assert moved.json()['variables'] == {'MODE': 'fast'}
    again = api.client.post(f'/api/runs/{own.json()["id"]}/retry', json={})  # an operator may give them
    assert again.status_code == 201, again.text
