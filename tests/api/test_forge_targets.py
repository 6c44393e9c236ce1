"""A project's forge API (server-side request forgery): the server calls `issue_source.api_url` (or a forge's API
root on the repository's host) with the project's token, for issues, pull requests, branches and commit statuses,
so it goes by the webhooks' policy and setting, RUNBOARD_WEBHOOK_ALLOWED_HOSTS (docs/security.md). An address the
deployment refuses, or a name resolving now to one, is 422 forge_target_refused (field issue_source) at create and
update, before the forge is asked anything; every request checks again on the address it then connects to, so a
name whose DNS answer changes to 127.0.0.1 after the check gets no request, nor a commit status. A name the
deployment lists is reached at the address it resolved to, with the name in the Host header.

DNS is the test's, as in tests/api/test_webhook_targets.py: `webhook_targets.resolve` answers what the test says
for names under .test (None: the name does not resolve), never the network's."""

from __future__ import annotations

import socket

import pytest

from app.services.notifications import webhook_targets
from tests.afk.fake_forge import fake_forge
from tests.api.test_push_triggers import commit, deliver, delivery_log, github_push, set_rules
from tests.helpers.api import QUEUED, assert_problem, serving
from tests.helpers.forge_api import forge_api
from tests.helpers.runs import create_project
from tests.helpers.servers import api_server

RETRY_SOON = dict(notification_backoff_seconds=[0.05], notification_poll_seconds=0.2)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str] | None]:
    answers: dict[str, list[str] | None] = {}
    real = webhook_targets.resolve

    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            return real(host, port)
        found = answers[host]
        if found is None:
            raise socket.gaierror(socket.EAI_NONAME, 'Name or service not known')
        return found

    monkeypatch.setattr(webhook_targets, 'resolve', resolve)
    return answers


def _port(root: str) -> str:
    return root.split(':')[2].split('/')[0]


def _gitea(api_url: str) -> dict:
    return {'kind': 'gitea', 'api_url': api_url, 'owner': 'o', 'repo': 'r', 'token': 'tok', 'timeout_seconds': 5}


@pytest.mark.parametrize(
    ('backend', 'url', 'because'),
    [
        ('team', 'http://127.0.0.1:{port}/api/v1', 'loopback'),
        ('team', 'http://localhost:{port}/api/v1', 'loopback'),
        ('team', 'http://2130706433:{port}/api/v1', 'loopback'),  # 127.0.0.1 as one number
        ('team', 'http://[::ffff:127.0.0.1]:{port}/api/v1', 'loopback'),
        ('team', 'http://10.20.30.40/api/v1', 'private'),
        ('team', 'http://inside.example.test/api/v1', 'private'),  # a name resolving to a private address now
        ('team', 'http://169.254.169.254/latest/meta-data', 'link-local'),  # cloud metadata
        # local mode allows a person's own loopback and network, not the metadata endpoint or 0.0.0.0
        ('local', 'http://169.254.169.254/latest/meta-data', 'link-local'),
        ('local', 'http://0.0.0.0:{port}/api/v1', 'unspecified'),
    ],
)
def test_a_forge_api_inside_the_servers_network_is_refused_at_create_and_update(
    settings_factory,  # noqa: ANN001
    repo_factory,  # noqa: ANN001
    dns,  # noqa: ANN001
    url: str,
    because: str,
) -> None:
    dns['inside.example.test'] = ['10.1.1.1']
    repo = repo_factory()
    with fake_forge('gitea') as (state, root), api_server(settings_factory()) as server, server.client() as client:
        state.clone_url = str(repo)
        source = _gitea(url.format(port=_port(root)))
        body = {'id': 'forged', 'name': 'F', 'repository': str(repo), 'base_branch': 'main', 'command': ['true']}
        problem = assert_problem(
            client.post('/api/projects', json={**body, 'issue_source': source}), 422, 'forge_target_refused'
        )
        assert problem['field'] == 'issue_source'
        assert because in problem['detail'] and 'RUNBOARD_WEBHOOK_ALLOWED_HOSTS' in problem['detail']
        # without a repository the forge would be asked for its clone URL, with the token: it is not asked
        no_repository = {**body, 'repository': '', 'issue_source': source}
        assert_problem(client.post('/api/projects', json=no_repository), 422, 'forge_target_refused')
        assert client.get('/api/projects/forged').status_code == 404

        before = create_project(client, repo)['issue_source']
        problem = assert_problem(
            client.patch('/api/projects/proj', json={'issue_source': source}), 422, 'forge_target_refused'
        )
        assert problem['field'] == 'issue_source' and because in problem['detail']
        assert client.get('/api/projects/proj').json()['issue_source'] == before  # unchanged
        assert state.requests == []  # the forge was never called


@pytest.mark.parametrize('backend', ['team'])
def test_the_forge_api_a_repository_url_implies_is_checked_too(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """No api_url: a Gitea's API root on the repository's host, which is where the token would go."""
    repo = repo_factory()
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        source = {'kind': 'gitea', 'token': 'tok'}
        moved = {'repository': 'http://127.0.0.1:9/team/app.git', 'issue_source': source}
        problem = assert_problem(client.patch('/api/projects/proj', json=moved), 422, 'forge_target_refused')
        assert '127.0.0.1 is a loopback address' in problem['detail']


@pytest.mark.parametrize('backend', ['team'])
def test_a_forge_name_rebound_to_loopback_after_the_check_gets_no_request(
    settings_factory,  # noqa: ANN001
    repo_factory,  # noqa: ANN001
    dns,  # noqa: ANN001
) -> None:
    repo = repo_factory()
    with fake_forge('gitea') as (state, root), api_server(settings_factory()) as server, server.client() as client:
        state.add_issue(7, 'seven', ['ready-for-agent'])
        dns['rebind.example.test'] = None  # does not resolve yet: accepted (every request checks)
        create_project(
            client, repo, project_id='forged', issue_source=_gitea(f'http://rebind.example.test:{_port(root)}/api/v1')
        )
        dns['rebind.example.test'] = ['127.0.0.1']  # then its owner points it at the server itself

        problem = assert_problem(client.get('/api/projects/forged/issues'), 502, 'forge_unavailable')
        assert 'rebind.example.test resolves to 127.0.0.1, a loopback address' in problem['detail']
        assert 'RUNBOARD_WEBHOOK_ALLOWED_HOSTS' in problem['detail']
        assert state.requests == []  # nothing reached the loopback forge, token and all


@pytest.mark.parametrize('backend', ['team'])
def test_a_forge_name_the_deployment_allows_is_reached_at_the_address_it_resolved_to(
    settings_factory,  # noqa: ANN001
    repo_factory,  # noqa: ANN001
    dns,  # noqa: ANN001
) -> None:
    repo = repo_factory()
    settings = settings_factory(webhook_allowed_hosts='external,forge.example.test')
    with fake_forge('gitea') as (state, root), api_server(settings) as server, server.client() as client:
        state.add_issue(7, 'seven', ['ready-for-agent'])
        port = _port(root)
        dns['forge.example.test'] = ['127.0.0.1']  # no real name: only this resolver knows it
        create_project(
            client, repo, project_id='forged', issue_source=_gitea(f'http://forge.example.test:{port}/api/v1')
        )
        issues = client.get('/api/projects/forged/issues')
        assert issues.status_code == 200, issues.text
        assert [issue['number'] for issue in issues.json()] == [7]
        assert state.hosts and set(state.hosts) == {f'forge.example.test:{port}'}
        problem = assert_problem(
            client.patch('/api/projects/forged', json={'issue_source': _gitea(root)}), 422, 'forge_target_refused'
        )  # the name is allowed, not the address
        assert 'loopback' in problem['detail']


@pytest.mark.parametrize('backend', ['team'])
def test_a_commit_status_to_a_forge_rebound_to_loopback_is_refused_and_says_why(
    settings_factory,  # noqa: ANN001
    repo_factory,  # noqa: ANN001
    dns,  # noqa: ANN001
) -> None:
    repo = repo_factory()
    dns['statuses.example.test'] = None
    with forge_api('github') as remote:
        source = {
            'kind': 'github',
            'api_url': f'http://statuses.example.test:{_port(remote.root)}',
            'owner': 'team',
            'repo': 'app',
            'token': remote.token,
        }
        with serving(settings_factory(**QUEUED, **RETRY_SOON), repo, issue_source=source) as api:
            dns['statuses.example.test'] = ['127.0.0.1']
            secret = set_rules(api.client)
            sha = commit(repo)
            (run_id,) = deliver(api.client, 'github', 'push', github_push('main', 'a' * 40, sha), secret).json()[
                'run_ids'
            ]
            rows = delivery_log(api.client, run_id, until=lambda rows: rows and rows[0]['last_error'])
            assert rows[0]['last_error'].startswith(
                'refused: statuses.example.test resolves to 127.0.0.1, a loopback address'
            ), rows
            assert remote.tries == 0
