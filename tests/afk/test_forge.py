"""Gitea/Forgejo and GitHub adapters against a local HTTP server that speaks their API subset."""

from __future__ import annotations

import pytest

from app.models import RunStatus
from app.services.notifications.webhook_policy import parse_policy
from app.services.notifications.webhook_targets import TargetGuard
from app.services.repositories import forge
from tests.afk.fake_forge import fake_forge
from tests.helpers.runs import create_project, shell_script, wait_for_status
from tests.helpers.servers import api_server


def _source(kind: str, root: str, **extra) -> dict:  # noqa: ANN003
    return {'kind': kind, 'api_url': root, 'owner': 'o', 'repo': 'r', 'token': 'tok', 'timeout_seconds': 2, **extra}


@pytest.fixture(autouse=True)
def _fresh_cache():  # noqa: ANN202
    forge._ready_cache.clear()
    yield
    forge._ready_cache.clear()


@pytest.fixture(autouse=True)
def _loopback_forge(monkeypatch: pytest.MonkeyPatch) -> None:
    """The forge clients used without a server: the policy a server allowing forges on this machine hands them."""
    monkeypatch.setattr(forge, 'guard', TargetGuard(parse_policy('loopback', team_mode=True)))


LOOPBACK_FORGE = {'webhook_allowed_hosts': 'loopback'}  # a server's setting that allows a forge on this machine


@pytest.mark.parametrize('kind', ['gitea', 'github'])
def test_ready_issues_pull_requests_and_branches(kind: str) -> None:
    with fake_forge(kind) as (state, root):
        state.add_issue(3, 'third', ['ready-for-agent', 'bug'], body='do it')
        state.add_issue(1, 'first', ['ready-for-agent'])
        state.add_issue(2, 'not ready', ['bug'])
        state.add_issue(4, 'closed', ['ready-for-agent'], state='closed')
        state.add_issue(5, 'a pull request', ['ready-for-agent'], is_pull=True)
        for n in range(6, 120):  # more than one page
            state.add_issue(n, f'bulk {n}', ['ready-for-agent'])
        state.add_pull('afk/1', state='closed', merged=True)
        state.add_pull('afk/3', state='closed', merged=False)
        state.add_pull('afk/6', state='open')
        state.branches = [
            {'name': 'main', 'sha': 'a' * 40, 'date': '2026-01-01T00:00:00Z', 'message': 'old\nmore'},
            {'name': 'afk/1', 'sha': 'b' * 40, 'date': '2026-02-01T00:00:00Z', 'message': 'new'},
        ]
        config = forge.config_for('/unused', _source(kind, root))
        with forge.ForgeClient(config) as client:
            issues = client.ready_issues()
            assert [i.number for i in issues] == [1, 3, *range(6, 120)]
            assert issues[1].title == 'third' and issues[1].body == 'do it' and 'bug' in issues[1].labels
            assert client.pull_request_for('afk/1') is not None  # merged
            assert client.pull_request_for('afk/6') is not None  # open
            assert client.pull_request_for('afk/3') is None  # closed without merge
            assert client.pull_request_for('afk/9') is None
            branches = client.branches()
        assert [(b.name, b.subject) for b in branches] == [('afk/1', 'new'), ('main', 'old')]
        assert branches[0].commit == 'b' * 40 and branches[0].committed_at > branches[1].committed_at > 0


@pytest.mark.parametrize('kind', ['gitea', 'github'])
def test_forge_failures_are_clear_502s(kind: str) -> None:
    with fake_forge(kind) as (state, root):
        with forge.ForgeClient(forge.config_for('/x', _source(kind, root, token='wrong'))) as client:
            with pytest.raises(forge.ForgeUnavailable) as caught:
                client.ready_issues()
        assert caught.value.status == 502 and caught.value.error == 'forge_unavailable'
        assert 'token' in caught.value.detail
        with forge.ForgeClient(forge.config_for('/x', _source(kind, root, repo='missing'))) as client:
            with pytest.raises(forge.ForgeUnavailable, match='not found'):
                client.ready_issues()
        state.delay = 1.5
        with forge.ForgeClient(forge.config_for('/x', _source(kind, root, timeout_seconds=0.3))) as client:
            with pytest.raises(forge.ForgeUnavailable, match='did not answer within 0.3 s'):
                client.ready_issues()
        state.delay = 0
        state.status = 500
        with forge.ForgeClient(forge.config_for('/x', _source(kind, root))) as client:
            with pytest.raises(forge.ForgeUnavailable, match='answered 500'):
                client.branches()
    with forge.ForgeClient(forge.config_for('/x', _source(kind, root))) as client:  # server gone
        with pytest.raises(forge.ForgeUnavailable, match='Could not reach'):
            client.ready_issues()


def test_forge_project_through_the_api(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """Issues and branches of a forge project come from the forge; its outage is a 502 problem; an AFK
    run whose command fails still succeeds when its afk/<N> pull request exists."""
    repo = repo_factory({'main': shell_script('exit 3')})
    settings = settings_factory(**LOOPBACK_FORGE)
    with fake_forge('gitea') as (state, root), api_server(settings) as server, server.client() as client:
        state.add_issue(7, 'seven', ['ready-for-agent'], body='the body')
        state.add_issue(8, 'eight', ['ready-for-agent'])
        state.branches = [{'name': 'main', 'sha': 'c' * 40, 'date': '2026-03-01T00:00:00Z', 'message': 'm'}]
        create_project(client, repo, project_id='forged', issue_source=_source('gitea', root))
        issues = client.get('/api/projects/forged/issues').json()
        assert [(i['number'], i['ready'], i['claim']) for i in issues] == [(7, True, None), (8, True, None)]
        project = client.get('/api/projects/forged').json()
        assert project['ready_count'] == 2
        assert project['issue_source']['token'] == '********'  # a forge token is never shown back
        refused = client.post('/api/projects/forged/issues', json={'title': 'x'})
        assert refused.status_code == 409 and refused.json()['error'] == 'issue_source_readonly'

        state.add_pull('afk/7', state='open')
        run = client.post('/api/afk/start/forged')
        assert run.status_code == 201, run.text
        assert run.json()['issue_number'] == 7
        finished = wait_for_status(client, run.json()['id'])
        assert finished['status'] == RunStatus.succeeded.value and finished['exit_code'] == 3
        assert client.get('/api/projects/forged').json()['consecutive_failures'] == 0

        run = client.post('/api/afk/start/forged').json()  # no PR for afk/8: the exit code decides
        assert run['issue_number'] == 8
        assert wait_for_status(client, run['id'])['status'] == 'failed'
        assert client.get('/api/projects/forged').json()['consecutive_failures'] == 1
        # its pull request closed unmerged, forge issue 7 stays open: done, it is not taken again, until requeued
        done = next(i for i in client.get('/api/projects/forged/issues').json() if i['number'] == 7)
        assert (done['ready'], done['claim']['state']) == (False, 'done')
        requeued = client.post('/api/afk/parked/forged/7/requeue')
        assert requeued.status_code == 200 and requeued.json()['state'] == 'requeued', requeued.text
        assert next(i for i in client.get('/api/projects/forged/issues').json() if i['number'] == 7)['ready'] is True
        assert client.post('/api/afk/parked/forged/7/discard').status_code == 404  # only a parked issue is discarded

        state.status = 503
        forge._ready_cache.clear()
        reply = client.get('/api/projects/forged/issues')
        assert reply.status_code == 502 and reply.json()['error'] == 'forge_unavailable'
        assert reply.json()['correlation_id']
        assert client.get('/api/projects/forged').json()['ready_count'] is None


def test_forge_hosted_branches(settings_factory, monkeypatch) -> None:  # noqa: ANN001
    """app/api/projects.py lists a forge-hosted repository's branches through forge.list_branches."""
    from types import SimpleNamespace

    with fake_forge('github') as (state, root):
        state.branches = [{'name': 'main', 'sha': 'd' * 40, 'date': '2026-03-01T00:00:00Z', 'message': 'subject'}]
        project = SimpleNamespace(
            repository='https://github.example/o/r.git',
            issue_source={'kind': 'github', 'api_url': root, 'token': 'tok'},
        )
        [branch] = forge.list_branches(project)
        assert (branch.name, branch.commit, branch.subject) == ('main', 'd' * 40, 'subject')
        project.issue_source = {'kind': 'github', 'api_url': root, 'token': 'bad'}
        with pytest.raises(forge.ForgeUnavailable):
            forge.list_branches(project)
