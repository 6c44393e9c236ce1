"""Webhook targets (server-side request forgery). Team mode refuses rules to loopback, private, link-local,
unspecified and reserved addresses at create and update (422 webhook_target_refused), and checks again before
every attempt, on the address it then connects to: a name whose DNS answer changes to 127.0.0.1 after the
check is not delivered. A name the deployment allows is delivered to the address the resolver answered, with the
name in the Host header. Local mode still delivers to a person's own loopback listener.

DNS is the test's: `webhook_targets.resolve` is replaced (names under .test answer what the test says; every
other host resolves as usual), never the network's. The delivered case lists hooks.example.test in
RUNBOARD_WEBHOOK_ALLOWED_HOSTS and resolves it to the receiver on 127.0.0.1: a real connection has to reach a
listener on this machine, and a name allowed by the setting is honestly the policy that lets it through. That
a public address passes the default policy, and that the attempt connects to exactly the checked address, is
shown by tests/unit/test_webhook_policy.py."""

from __future__ import annotations

import pytest

from app.services.notifications import webhook_targets
from tests.helpers.api import assert_problem
from tests.helpers.runs import create_project
from tests.helpers.servers import api_server
from tests.helpers.webhooks import receiver

RULES = '/api/projects/proj/notifications'
PUBLIC = '93.184.215.14'


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    answers: dict[str, list[str]] = {}
    real = webhook_targets.resolve
    monkeypatch.setattr(webhook_targets, 'resolve', lambda host, port: answers.get(host) or real(host, port))
    return answers


def _ping(client, rule_id: str) -> dict:  # noqa: ANN001
    reply = client.post(f'{RULES}/{rule_id}/test')
    assert reply.status_code == 201, reply.text
    return reply.json()


@pytest.mark.parametrize('backend', ['team'])
@pytest.mark.parametrize(
    ('url', 'because'),
    [
        ('http://127.0.0.1:{port}/hook', 'loopback'),
        ('http://localhost:{port}/hook', 'loopback'),
        ('http://[::1]:{port}/hook', 'loopback'),
        ('http://2130706433:{port}/hook', 'loopback'),  # 127.0.0.1 as one number
        ('http://0x7f.1:{port}/hook', 'loopback'),
        ('http://0.0.0.0:{port}/hook', 'unspecified'),
        ('http://10.20.30.40/hook', 'private'),
        ('http://169.254.169.254/latest/meta-data/', 'link-local'),  # cloud metadata
        ('http://[::ffff:127.0.0.1]:{port}/hook', 'loopback'),
        ('http://inside.example.test/hook', 'private'),  # a name resolving to a private address now
    ],
)
def test_team_mode_refuses_internal_targets_at_create_and_update(
    settings_factory,  # noqa: ANN001
    repo_factory,  # noqa: ANN001
    dns,  # noqa: ANN001
    url: str,
    because: str,
) -> None:
    dns['inside.example.test'] = ['10.1.1.1']
    dns['hooks.example.test'] = [PUBLIC]
    repo = repo_factory()
    with receiver() as rx, api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        target = url.format(port=rx.url.split(':')[2].split('/')[0])
        problem = assert_problem(client.post(RULES, json={'url': target}), 422, 'webhook_target_refused')
        assert problem['field'] == 'url'
        assert because in problem['detail'] and 'RUNBOARD_WEBHOOK_ALLOWED_HOSTS' in problem['detail']
        assert client.get(RULES).json() == []

        allowed = client.post(RULES, json={'url': 'https://hooks.example.test/hook'})
        assert allowed.status_code == 201, allowed.text
        path = f'{RULES}/{allowed.json()["id"]}'
        problem = assert_problem(client.patch(path, json={'url': target}), 422, 'webhook_target_refused')
        assert because in problem['detail']
        assert client.get(path).json()['url'] == 'https://hooks.example.test/hook'  # unchanged
        assert rx.requests == []


@pytest.mark.parametrize('backend', ['team'])
def test_a_name_rebound_to_loopback_after_the_check_is_not_delivered(settings_factory, repo_factory, dns) -> None:  # noqa: ANN001
    repo = repo_factory()
    with receiver() as rx, api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        port = rx.url.split(':')[2].split('/')[0]
        dns['rebind.example.test'] = [PUBLIC]  # public when the rule is checked
        created = client.post(RULES, json={'url': f'http://rebind.example.test:{port}/hooks/runboard'})
        assert created.status_code == 201, created.text
        dns['rebind.example.test'] = ['127.0.0.1']  # then the name's owner points it at the server itself

        delivery = _ping(client, created.json()['id'])
        [attempt] = delivery['attempt_log']
        assert attempt['status_code'] is None and delivery['status'] == 'failed'
        assert attempt['error'].startswith('refused: rebind.example.test resolves to 127.0.0.1, a loopback address')
        assert delivery['last_error'] == attempt['error']
        assert rx.requests == []  # nothing reached the loopback listener


@pytest.mark.parametrize('backend', ['team'])
def test_a_name_the_deployment_allows_is_delivered_to_the_address_it_resolved_to(
    settings_factory,  # noqa: ANN001
    repo_factory,  # noqa: ANN001
    dns,  # noqa: ANN001
) -> None:
    repo = repo_factory()
    settings = settings_factory(webhook_allowed_hosts='external,hooks.example.test')
    with receiver(500) as rx, api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        port = rx.url.split(':')[2].split('/')[0]
        dns['hooks.example.test'] = ['127.0.0.1']  # the name is no real one: only this resolver knows it
        created = client.post(RULES, json={'url': f'http://hooks.example.test:{port}/hooks/runboard'})
        assert created.status_code == 201, created.text
        assert_problem(
            client.post(RULES, json={'url': f'http://127.0.0.1:{port}/hooks/runboard'}), 422, 'webhook_target_refused'
        )  # the name is allowed, not the address

        failed = _ping(client, created.json()['id'])
        [request] = rx.wait_for(1)
        assert request.headers['host'] == f'hooks.example.test:{port}' and request.path == '/hooks/runboard'
        # the log keeps the status and a safe phrase; what the receiver answered is an operator's to read, apart
        assert failed['attempt_log'][0]['error'] == 'HTTP 500 Internal Server Error'
        detail = client.get(f'/api/deliveries/{failed["id"]}').json()
        [attempt] = detail['attempt_log']
        assert attempt['error'] == 'HTTP 500 Internal Server Error' and detail['last_error'] == attempt['error']
        assert attempt['answer']['excerpt'] == 'receiver says no'

        again = client.post(f'/api/deliveries/{failed["id"]}/redeliver')
        assert again.status_code == 200, again.text
        assert again.json()['status'] == 'delivered'
        assert [a['status_code'] for a in again.json()['attempt_log']] == [500, 200]


@pytest.mark.parametrize('backend', ['local'])
def test_local_mode_delivers_to_a_loopback_listener(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory()
    with receiver() as rx, api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        created = client.post(RULES, json={'url': rx.url.replace('127.0.0.1', 'localhost')})
        assert created.status_code == 201, created.text
        assert _ping(client, created.json()['id'])['status'] == 'delivered'
        assert rx.wait_for(1)[0].path == '/hooks/runboard'
