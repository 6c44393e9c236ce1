"""A forge's `issues` webhook (docs/triggers.md, "Issue events"): an issue opened, labelled or closed on the forge is
what the cards and the AFK loop see at once, on every server, instead of after the ready issues' 15 s cache; a
project whose issues are its own backlog ignores it. Two servers on one database, on every backend."""

from __future__ import annotations

import time

from cryptography.fernet import Fernet

from tests.afk.fake_forge import fake_forge
from tests.api.test_push_triggers import deliver
from tests.helpers.api import QUEUED, same_database
from tests.helpers.runs import create_project
from tests.helpers.servers import api_server

READY = ['ready-for-agent']


def _ready_count(client) -> int | None:  # noqa: ANN001
    return client.get('/api/projects/proj').json()['ready_count']


def _labelled(number: int) -> dict:
    return {'action': 'labeled', 'issue': {'number': number, 'title': 'eight'}, 'label': {'name': READY[0]}}


def test_an_issue_labelled_on_the_forge_is_ready_at_once_on_every_server(settings_factory, repo_factory) -> None:  # noqa: ANN001
    # the forge is on this machine; both servers read the hook secret (each data dir would make its own key)
    shared = {'webhook_allowed_hosts': 'loopback', 'secret_key': Fernet.generate_key().decode()}
    settings = settings_factory(**QUEUED, **shared)
    with (
        fake_forge('github') as (forge, root),
        api_server(settings) as one,
        api_server(same_database(settings_factory, settings, **shared)) as two,
        one.client() as first,
        two.client() as second,
    ):
        forge.add_issue(7, 'seven', READY)
        source = {'kind': 'github', 'api_url': root, 'owner': 'o', 'repo': 'r', 'token': forge.token}
        create_project(first, repo_factory(), issue_source=source)
        assert (_ready_count(first), _ready_count(second)) == (1, 1)  # each server has read (and keeps) the forge's

        forge.add_issue(8, 'eight', READY)
        secret = first.post('/api/projects/proj/hook-secret').json()['secret']
        answer = deliver(first, 'github', 'issues', _labelled(8), secret)
        assert answer.status_code == 200, answer.text
        assert (answer.json()['event'], answer.json()['outcome']) == ('issues', 'refreshed')
        assert '#8 labeled' in answer.json()['detail']
        assert (_ready_count(first), _ready_count(second)) == (2, 2)  # the other server's read was from before

        forge.issues[:] = [i for i in forge.issues if i['number'] != 7]  # closed on the forge
        closed = deliver(second, 'github', 'issues', {'action': 'closed', 'issue': {'number': 7}}, secret)
        assert closed.json()['outcome'] == 'refreshed', closed.text
        assert (_ready_count(first), _ready_count(second)) == (1, 1)

        assert deliver(first, 'github', 'issues', {'action': 'labeled'}, secret).json()['outcome'] == 'ignored'
        assert deliver(first, 'github', 'issues', _labelled(8), 'not-the-secret').status_code == 401


def test_a_project_with_its_own_backlog_ignores_the_forges_issue_events(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with api_server(settings_factory(**QUEUED)) as server, server.client() as client:
        create_project(client, repo_factory())
        secret = client.post('/api/projects/proj/hook-secret').json()['secret']
        answer = deliver(client, 'gitea', 'issues', _labelled(3), secret)
        assert answer.status_code == 200, answer.text
        assert answer.json()['outcome'] == 'ignored' and 'own backlog' in answer.json()['detail']


def test_the_afk_loop_takes_up_an_issue_labelled_on_the_forge_without_waiting_for_its_sweep(
    settings_factory,  # noqa: ANN001
    repo_factory,  # noqa: ANN001
) -> None:
    settings = settings_factory(
        webhook_allowed_hosts='loopback', afk_sweep_seconds=3600
    )  # no sweep in this test's time
    with fake_forge('github') as (forge, root), api_server(settings) as server, server.client() as client:
        source = {'kind': 'github', 'api_url': root, 'owner': 'o', 'repo': 'r', 'token': forge.token}
        create_project(client, repo_factory(), issue_source=source)
        secret = client.post('/api/projects/proj/hook-secret').json()['secret']
        assert client.post('/api/afk/auto/proj', json={'enabled': True}).status_code == 200  # nothing ready yet
        assert client.get('/api/projects/proj').json()['ready_count'] == 0

        forge.add_issue(8, 'eight', READY)
        assert deliver(client, 'github', 'issues', _labelled(8), secret).json()['outcome'] == 'refreshed'
        deadline = time.monotonic() + 60
        while not (runs := client.get('/api/runs', params={'project': 'proj', 'kind': 'auto'}).json()['items']):
            assert time.monotonic() < deadline, 'the AFK loop did not take the issue up'
            time.sleep(0.1)
        assert [run['issue_number'] for run in runs] == [8]
