"""Two teams with projects on one repository never see or limit each other: locks and concurrency slots
are scoped per team (repository_key = team + repository), on every backend."""

from __future__ import annotations

from app.models import Role
from tests.helpers.api import add_user, assert_problem, run_body
from tests.helpers.runs import create_project


def _everything_b_sees(b) -> str:  # noqa: ANN001
    return '\n'.join(
        b.get(path, params=params).text
        for path, params in (
            ('/api/runs', {'limit': 200}),
            ('/api/projects/bee/branches', {}),
            ('/api/projects', {}),
            ('/api/projects/bee', {}),
            ('/api/quota/runs', {}),
        )
    )


def test_two_teams_on_one_repository(api) -> None:  # noqa: ANN001
    """Team A ('local', project proj, 2 slots) and team B (project bee, 1 slot) on A's repository."""
    token_b = add_user(api.server, team='team-b', role=Role.operator, name='bea')
    with api.server.client(token_b) as b:
        create_project(b, api.repo, project_id='bee', team_id='team-b', max_concurrent_runs=1)
        busy_a = api.client.post('/api/runs', json=run_body('proj', 'feature/a'))
        assert busy_a.status_code == 201
        run_a = busy_a.json()['id']

        # B on A's busy branch: admitted (no pr_lock naming A's run), and B never sees A's run id
        on_same_branch = b.post('/api/runs', json=run_body('bee', 'feature/a'))
        assert on_same_branch.status_code == 201, on_same_branch.text
        assert run_a not in on_same_branch.text
        branches = {x['name']: x['busy_run_id'] for x in b.get('/api/projects/bee/branches').json()}
        assert branches['feature/a'] == on_same_branch.json()['id']  # B's own run, not A's
        assert run_a not in _everything_b_sees(b)

        # B's limit of 1 binds B only: B is now full, A (limit 2) still admits its second run
        full = b.post('/api/runs', json=run_body('bee', 'feature/b'))
        body = assert_problem(full, 409, 'concurrency_limit')
        assert run_a not in full.text and body['blocking_runs'] == [on_same_branch.json()['id']]
        second_a = api.client.post('/api/runs', json=run_body('proj', 'feature/b'))
        assert second_a.status_code == 201, second_a.text

        # and A's answers never name B's runs either
        a_branches = {x['name']: x['busy_run_id'] for x in api.client.get('/api/projects/proj/branches').json()}
        assert (
            a_branches['feature/a'] == run_a
            and on_same_branch.json()['id'] not in api.client.get('/api/runs', params={'limit': 200}).text
        )
