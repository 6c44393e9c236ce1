"""A run's commit as people pick runs by it: its title and author in GET /runs and GET /runs/{id}, read from the
repository once and kept (services/repositories/commits.py)."""

from __future__ import annotations

import shutil
import subprocess

from sqlalchemy import text

from tests.helpers.api import run_body
from tests.helpers.runs import create_project, wait_for_status


def _commit(repo, *, message: str, author: str) -> str:  # noqa: ANN001
    subprocess.run(
        ['git', '-c', f'user.name={author}', '-c', 'user.email=a@example.invalid', 'commit', '-q', '--allow-empty',
         '-m', message],
        cwd=repo, check=True,
    )  # fmt: skip
    return subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=repo, check=True, capture_output=True, text=True).stdout


def test_a_runs_commit_is_named_by_its_title_and_author_in_the_list_and_the_run(api, repo) -> None:  # noqa: ANN001
    sha = _commit(repo, message='Fix the parser\n\nThe body is not the title.', author='Ann Author').strip()
    keyed = {'Idempotency-Key': 'commit-titles-1'}
    run = api.client.post('/api/runs', json=run_body(branch='main'), headers=keyed).json()
    assert run['commit_sha'] == sha

    detail = api.client.get(f'/api/runs/{run["id"]}').json()
    assert (detail['commit_title'], detail['commit_author']) == ('Fix the parser', 'Ann Author')
    # the same trigger sent again (its key) names the commit as a read of the run does: the CLI's line says it
    again = api.client.post('/api/runs', json=run_body(branch='main'), headers=keyed).json()
    assert (again['id'], again['commit_title'], again['commit_author']) == (run['id'], 'Fix the parser', 'Ann Author')
    listed = {r['id']: r for r in api.client.get('/api/runs').json()['items']}
    assert listed[run['id']]['commit_title'] == 'Fix the parser'

    # people find a run by its commit, as they remember it: words of the title, or a sha they pasted
    for q in ('PARSER', sha[:8]):
        assert [r['id'] for r in api.client.get('/api/runs', params={'q': q}).json()['items']] == [run['id']], q
    assert api.client.get('/api/runs', params={'q': sha[1:9]}).json()['items'] == []  # a sha is matched from its start

    # read once and kept: the repository is not asked again (here it is gone), the title stays
    shutil.rmtree(repo)
    assert api.client.get(f'/api/runs/{run["id"]}').json()['commit_title'] == 'Fix the parser'
    with api.server.services.engine.connect() as conn:
        rows = conn.execute(text('SELECT sha, title, author_name FROM commit_info')).all()
    assert [tuple(r) for r in rows] == [(sha, 'Fix the parser', 'Ann Author')]


def test_a_commit_the_repository_lacks_or_a_forged_sha_is_answered_without_a_title(api) -> None:  # noqa: ANN001
    runs = [api.client.post('/api/runs', json=run_body(branch=b)).json() for b in ('main', 'feature/a')]
    with api.server.services.engine.begin() as conn:
        # pushed after the mirror's fetch (a real object name git does not have), and a value no admission writes,
        # which must never reach git's argv as an option
        conn.execute(text('UPDATE run SET commit_sha = :c WHERE id = :id'), {'c': 'ab' * 20, 'id': runs[0]['id']})
        conn.execute(text("UPDATE run SET commit_sha = '--output=x' WHERE id = :id"), {'id': runs[1]['id']})
    for run in runs:
        answer = api.client.get(f'/api/runs/{run["id"]}')
        assert answer.status_code == 200, answer.text
        assert answer.json()['commit_title'] is None
    page = api.client.get('/api/runs')
    assert page.status_code == 200 and all(r['commit_title'] is None for r in page.json()['items'])


def test_a_run_on_a_forge_links_its_commit_page_and_a_plain_repository_does_not(api) -> None:  # noqa: ANN001
    run = api.client.post('/api/runs', json=run_body(branch='main')).json()
    assert api.client.get(f'/api/runs/{run["id"]}').json()['commit_url'] is None  # a repository on this machine
    with api.server.services.engine.begin() as conn:  # as if it were a GitHub project (whose mirror is not here)
        conn.execute(text("UPDATE project SET repository = 'git@github.com:team/app.git' WHERE id = 'proj'"))
    detail = api.client.get(f'/api/runs/{run["id"]}').json()
    assert detail['commit_url'] == f'https://github.com/team/app/commit/{run["commit_sha"]}'
    assert api.client.get('/api/runs').json()['items'][0]['commit_url'] == detail['commit_url']


def _stop(api, run: dict) -> None:  # noqa: ANN001
    assert api.client.post(f'/api/runs/{run["id"]}/stop').status_code == 202
    wait_for_status(api.client, run['id'], ('stopped',))


def test_deleting_a_project_removes_the_titles_of_commits_no_other_projects_run_names(api, repo) -> None:  # noqa: ANN001
    _commit(repo, message='Shared by both projects', author='Ann')
    create_project(api.client, repo, project_id='other')
    runs = []
    for project_id in ('proj', 'other', 'proj'):
        if len(runs) == 2:
            _commit(repo, message='Only the deleted project ran this', author='Ann')
        reply = api.client.post('/api/runs', json=run_body(project_id=project_id))
        assert reply.status_code == 201, reply.text
        runs.append(reply.json())
        _stop(api, runs[-1])  # the repository's branch is free for the next, and proj has no active run
    shared, own = runs[0]['commit_sha'], runs[2]['commit_sha']
    assert runs[1]['commit_sha'] == shared != own
    for run in runs:  # queued here, as if never started: a read stores the title (a start would have)
        assert api.client.get(f'/api/runs/{run["id"]}').json()['commit_title']
    with api.server.services.engine.connect() as conn:
        assert {r[0] for r in conn.execute(text('SELECT sha FROM commit_info'))} == {shared, own}

    assert api.client.delete('/api/projects/proj').status_code == 204
    with api.server.services.engine.connect() as conn:
        assert [r[0] for r in conn.execute(text('SELECT sha FROM commit_info'))] == [shared]
    assert api.client.get(f'/api/runs/{runs[1]["id"]}').json()['commit_title'] == 'Shared by both projects'
