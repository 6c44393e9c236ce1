"""Team mode takes remote repositories only: a server path or file:// URL reads the server's own disk (another
team's mirror, say), so creating a project on one, or changing a project to one, is 422 unsupported_repository
unless RUNBOARD_ALLOW_LOCAL_REPOSITORIES=true. A project made before (or while the setting was on) keeps running,
and its answer says why it would be refused now. (The rest of the suite runs team mode with the setting on:
tests/helpers/backends.py.)"""

from __future__ import annotations

import pytest

from tests.helpers.api import assert_problem
from tests.helpers.runs import create_project, shell_script, trigger, wait_for_status
from tests.helpers.servers import api_server

BODY = {'id': 'proj', 'name': 'Proj', 'base_branch': 'main', 'command': ['sh', 'run.sh']}


@pytest.mark.parametrize('backend', ['team'])
def test_team_mode_refuses_server_paths_and_file_urls(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('echo hi')})
    with api_server(settings_factory(allow_local_repositories=False)) as server, server.client() as client:
        for value in (str(repo), f'file://{repo}', str(server.settings.mirrors_dir / 'someone-elses.git')):
            problem = assert_problem(
                client.post('/api/projects', json={**BODY, 'repository': value}), 422, 'unsupported_repository'
            )
            assert problem['field'] == 'repository' and problem['reason'] == 'local_repository'
            assert 'RUNBOARD_ALLOW_LOCAL_REPOSITORIES=true' in problem['detail']
        assert client.get('/api/projects').json() == []


@pytest.mark.parametrize('backend', ['team'])
def test_an_existing_local_project_keeps_running_and_says_why_it_would_be_refused(
    settings_factory,  # noqa: ANN001
    repo_factory,  # noqa: ANN001
) -> None:
    repo = repo_factory({'main': shell_script('echo still here')})
    other = repo_factory({'main': shell_script('echo other')})
    allowed = settings_factory()  # the suite's team settings: local repositories allowed
    with api_server(allowed) as first, first.client() as client:
        assert create_project(client, repo)['repository_notice'] is None
        token = first.token
    # the deployment turns the setting off (a second server on the same database)
    with api_server(settings_factory(allow_local_repositories=False)) as server, server.client(token) as client:
        project = client.get('/api/projects/proj').json()
        assert 'a path on the server' in project['repository_notice']
        assert 'a path on the server' in client.get('/api/projects').json()[0]['repository_notice']
        run = wait_for_status(client, trigger(client).json()['id'])
        assert run['status'] == 'succeeded'  # it keeps running

        renamed = client.patch('/api/projects/proj', json={'name': 'Renamed', 'repository': str(repo)})
        assert renamed.status_code == 200, renamed.text  # an edit that keeps its repository
        assert renamed.json()['name'] == 'Renamed' and renamed.json()['repository_notice']
        for value in (str(other), f'file://{other}'):  # an edit that sets one
            assert_problem(
                client.patch('/api/projects/proj', json={'repository': value}), 422, 'unsupported_repository'
            )
        assert client.get('/api/projects/proj').json()['repository'] == str(repo)


@pytest.mark.parametrize('backend', ['local'])
def test_local_mode_takes_a_path_on_this_machine(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('echo mine')})
    with api_server(settings_factory()) as server, server.client() as client:
        assert create_project(client, repo)['repository_notice'] is None
        assert client.get('/api/projects/proj').json()['repository_notice'] is None
