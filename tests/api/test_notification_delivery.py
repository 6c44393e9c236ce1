"""Webhook deliveries against a real receiver (a threaded HTTP server started by the test), on every backend:
a failing run is delivered signed; a receiver answering 500 gets the retry; a delivery that gave up is
redelivered under the same id; a server stopped while a delivery backs off loses nothing."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

from sqlalchemy import update

from app.infra.db import session_scope
from app.models import NotificationRule, Role, utcnow
from app.services.notifications.fair_share import PER_RULE_IN_FLIGHT
from app.services.notifications.outbox import insert_deliveries
from app.services.notifications.payloads import EventFacts
from app.services.notifications.signature import sign, verify
from tests.helpers.api import add_user, assert_problem, post_all
from tests.helpers.runs import create_project, shell_script, trigger, wait_for_status
from tests.helpers.servers import api_server
from tests.helpers.webhooks import receiver

# the test's receiver listens on 127.0.0.1, which team mode refuses by default (docs/security.md); an attempt may
# take 60 s, not 10, because a loaded CI machine once spent 10 s of a run's end before a receiver's prompt answer
# reached the sender, and these tests are about what the receiver answered (the timeout's own test sets 1 s)
FAST = dict(
    notification_backoff_seconds=[0.3],
    notification_poll_seconds=0.2,
    notification_max_attempts=3,
    notification_timeout_seconds=60.0,
    webhook_allowed_hosts='loopback',
)
RULES = '/api/projects/proj/notifications'


def _rule(client, url: str, **fields) -> dict:  # noqa: ANN001, ANN003
    reply = client.post(RULES, json={'url': url, **fields})
    assert reply.status_code == 201, reply.text
    return reply.json()


def _deliveries(client, **params) -> list[dict]:  # noqa: ANN001, ANN003
    reply = client.get('/api/projects/proj/deliveries', params=params)
    assert reply.status_code == 200, reply.text
    return reply.json()['items']


def _settled(client, delivery_id: str, statuses=('delivered', 'gave_up'), timeout: float = 30) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while (delivery := client.get(f'/api/deliveries/{delivery_id}').json())['status'] not in statuses:
        assert time.monotonic() < deadline, delivery
        time.sleep(0.05)
    return delivery


def test_a_failing_run_delivers_a_signed_webhook(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('echo boom; exit 3')})
    with receiver() as rx, api_server(settings_factory(**FAST)) as server, server.client() as client:
        create_project(client, repo)
        rule = _rule(client, rx.url, events=['run.failed'])
        other = _rule(client, rx.url + '/other', events=['run.crashed', 'run.failed'])
        _rule(client, rx.url + '/successes', events=['run.succeeded'])  # not subscribed to failures
        run = wait_for_status(client, trigger(client).json()['id'])
        assert run['status'] == 'failed'

        by_path = {r.path: r for r in rx.wait_for(2)}
        assert set(by_path) == {'/hooks/runboard', '/hooks/runboard/other'}
        request, copy = by_path['/hooks/runboard'], by_path['/hooks/runboard/other']
        # one event, one delivery per rule: the same event id, each signed with its own rule's secret
        assert json.loads(copy.body)['id'] == json.loads(request.body)['id']
        assert copy.headers['x-runboard-delivery'] != request.headers['x-runboard-delivery']
        assert verify(other['secret'], copy.headers['x-runboard-signature'], copy.body, now=time.time())
        assert not verify(rule['secret'], copy.headers['x-runboard-signature'], copy.body, now=time.time())
        assert verify(rule['secret'], request.headers['x-runboard-signature'], request.body, now=time.time())
        assert not verify('whsec_wrong', request.headers['x-runboard-signature'], request.body, now=time.time())
        assert request.headers['x-runboard-event'] == 'run.failed'
        assert request.headers['content-type'] == 'application/json'
        document = json.loads(request.body)
        assert document['type'] == 'run.failed' and document['project']['id'] == 'proj'
        assert document['run']['id'] == run['id'] and document['run']['exit_code'] == 3
        assert document['run']['url'].endswith(f'/runs/{run["id"]}')

        [delivery] = _deliveries(client, rule=rule['id'])
        assert delivery['id'] == request.headers['x-runboard-delivery']
        assert delivery['event_id'] == document['id'] and delivery['run_id'] == run['id']
        settled = _settled(client, delivery['id'])
        assert settled['status'] == 'delivered' and settled['attempts'] == 1
        assert settled['payload'].encode() == request.body  # the log shows exactly what was signed and sent
        assert rx.of_event('run.succeeded') == []


def test_a_receiver_answering_500_twice_gets_the_third_attempt(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('exit 1')})
    with receiver(500, 500) as rx, api_server(settings_factory(**FAST)) as server, server.client() as client:
        create_project(client, repo)
        rule = _rule(client, rx.url, format='slack')
        wait_for_status(client, trigger(client).json()['id'])
        requests = rx.wait_for(3)
        assert len({r.headers['x-runboard-delivery'] for r in requests}) == 1  # one delivery, three attempts
        assert len({r.body for r in requests}) == 1  # the same body each time, freshly signed
        for request in requests:
            assert verify(rule['secret'], request.headers['x-runboard-signature'], request.body, now=time.time())
        assert json.loads(requests[0].body)['text'].startswith(':x: *<')
        delivery = _settled(client, requests[0].headers['x-runboard-delivery'])
        assert delivery['status'] == 'delivered' and delivery['attempts'] == 3
        assert [a['status_code'] for a in delivery['attempt_log']] == [500, 500, 200]
        # the status and its standard phrase; the receiver's body only in its answer (operators read it)
        assert delivery['attempt_log'][0]['error'] == 'HTTP 500 Internal Server Error'
        assert delivery['attempt_log'][0]['answer']['excerpt'] == 'receiver says no'
        # the backoff was waited between attempts (0.3 s in this test)
        assert requests[1].at - requests[0].at >= 0.25 and requests[2].at - requests[1].at >= 0.25
        [listed] = _deliveries(client, status='delivered')
        assert listed['attempt_log'] == [{k: v for k, v in a.items() if k != 'answer'} for a in delivery['attempt_log']]


def test_gives_up_then_redeliver_sends_the_same_delivery_again(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('exit 1')})
    with receiver(500, 500, 500) as rx, api_server(settings_factory(**FAST)) as server, server.client() as client:
        create_project(client, repo)
        _rule(client, rx.url)
        wait_for_status(client, trigger(client).json()['id'])
        first = rx.wait_for(3)[0]
        delivery = _settled(client, first.headers['x-runboard-delivery'])
        assert delivery['status'] == 'gave_up' and delivery['attempts'] == 3
        assert _deliveries(client, status='gave_up')[0]['id'] == delivery['id']

        again = client.post(f'/api/deliveries/{delivery["id"]}/redeliver')
        assert again.status_code == 200, again.text
        assert again.json()['status'] == 'delivered'
        assert [a['status_code'] for a in again.json()['attempt_log']] == [500, 500, 500, 200]
        assert again.json()['attempt_log'][-1]['redelivery'] is True
        latest = rx.wait_for(4)[-1]
        assert latest.headers['x-runboard-delivery'] == delivery['id'] and latest.body == first.body

        # a delivered one can be sent again too (a receiver that lost it)
        assert client.post(f'/api/deliveries/{delivery["id"]}/redeliver').json()['attempts'] == 5


def test_operators_read_what_the_receiver_answered_builders_never(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """Each attempt keeps the receiver's Content-Type and the first 2 KiB of its body, inert (no escape sequences or
    control characters); a delivery's detail shows them to operators only, and the list to no one."""
    answer = b'\x1b[31m{"error": "bad signature"}\x1b[0m\x00' + b'x' * 3000
    repo = repo_factory({'main': shell_script('exit 1')})
    settings = settings_factory(**{**FAST, 'notification_max_attempts': 2})
    with (
        receiver(401, 401, body=answer, content_type='application/json; charset=utf-8') as rx,
        api_server(settings) as server,
        server.client() as client,
    ):
        create_project(client, repo)
        _rule(client, rx.url, events=['run.failed'])
        wait_for_status(client, trigger(client).json()['id'])
        delivery = _settled(client, rx.wait_for(2)[0].headers['x-runboard-delivery'])
        assert delivery['status'] == 'gave_up' and delivery['answers_shown'] is True
        first = delivery['attempt_log'][0]
        assert first['error'] == 'HTTP 401 Unauthorized'  # the error line is as before: code and phrase
        kept = first['answer']
        assert kept['content_type'] == 'application/json; charset=utf-8' and kept['truncated'] is True
        assert kept['excerpt'].startswith('{"error": "bad signature"}x')
        assert len(kept['excerpt'].encode()) == 2048 - len(b'\x1b[31m\x1b[0m\x00')  # 2 KiB read, controls removed
        listed = client.get('/api/projects/proj/deliveries').json()['items'][0]
        assert 'bad signature' not in json.dumps(listed)  # the list never carries answers
        # the answer to a Redeliver (operators) carries the attempt it made with its answer
        again = client.post(f'/api/deliveries/{delivery["id"]}/redeliver').json()
        assert again['attempt_log'][-1]['status_code'] == 200 and again['attempt_log'][-1]['answer'] == kept

        builder = add_user(server, role=Role.builder, name='bob')
        with server.client(builder) as as_builder:
            seen = as_builder.get(f'/api/deliveries/{delivery["id"]}')
            assert seen.status_code == 200
            assert seen.json()['answers_shown'] is False
            assert [a['answer'] for a in seen.json()['attempt_log']] == [None, None, None]
            assert 'bad signature' not in seen.text and 'xxxx' not in seen.text


def test_a_server_stopped_while_a_delivery_backs_off_loses_nothing(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('exit 1')})
    settings = settings_factory(**{**FAST, 'notification_backoff_seconds': [3.0]})
    with receiver(500) as rx:
        with api_server(settings) as server, server.client() as client:
            create_project(client, repo)
            _rule(client, rx.url)
            wait_for_status(client, trigger(client).json()['id'])
            first = rx.wait_for(1)[0]
            delivery = _settled(client, first.headers['x-runboard-delivery'], statuses=('failed',))
            assert delivery['next_attempt_at'] is not None
        # the server is gone before the retry was due; a new one on the same database sends it
        assert len(rx.requests) == 1
        with api_server(settings) as server, server.client() as client:
            second = rx.wait_for(2)[1]
            assert second.headers['x-runboard-delivery'] == delivery['id'] and second.body == first.body
            settled = _settled(client, delivery['id'])
            assert settled['status'] == 'delivered'
            assert [a['status_code'] for a in settled['attempt_log']] == [500, 200]


def test_after_a_secret_rotation_receivers_with_the_old_or_the_new_secret_verify_for_a_day(
    settings_factory, repo_factory
) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('exit 1')})
    with receiver() as rx, api_server(settings_factory(**FAST)) as server, server.client() as client:
        create_project(client, repo)
        rule = _rule(client, rx.url)
        old = rule['secret']
        rotated = client.post(f'{RULES}/{rule["id"]}/secret')
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()['secret']

        assert client.post(f'{RULES}/{rule["id"]}/test').json()['status'] == 'delivered'
        [during] = rx.wait_for(1)
        header = during.headers['x-runboard-signature']
        assert verify(old, header, during.body, now=time.time())  # a receiver not yet given the new secret
        assert verify(new, header, during.body, now=time.time())  # one that already has it
        assert not verify('whsec_other', header, during.body, now=time.time())
        assert header.split(',')[1] == 'v1=' + sign(new, int(header.split(',')[0][2:]), during.body)  # new first

        # a day later the replaced secret no longer signs
        rules_table = NotificationRule.__table__  # type: ignore[attr-defined]
        with session_scope(server.services.engine) as session:
            session.connection().execute(
                update(rules_table).values(previous_secret_until=utcnow() - timedelta(seconds=1))
            )
        assert client.post(f'{RULES}/{rule["id"]}/test').json()['status'] == 'delivered'
        after = rx.wait_for(2)[1]
        header = after.headers['x-runboard-signature']
        assert verify(new, header, after.body, now=time.time())
        assert not verify(old, header, after.body, now=time.time())
        assert header.count('v1=') == 1


def test_test_sends_a_ping_now_and_a_switched_off_rule_holds_its_deliveries(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('exit 1')})
    with receiver() as rx, api_server(settings_factory(**FAST)) as server, server.client() as client:
        create_project(client, repo)
        rule = _rule(client, rx.url, enabled=False)
        ping = client.post(f'{RULES}/{rule["id"]}/test')
        assert ping.status_code == 201, ping.text
        assert ping.json()['event_type'] == 'ping' and ping.json()['status'] == 'delivered'
        [request] = rx.wait_for(1)
        assert request.headers['x-runboard-event'] == 'ping'
        assert verify(rule['secret'], request.headers['x-runboard-signature'], request.body, now=time.time())

        # switched off: no delivery for the failure at all (rules are read when the event happens)
        wait_for_status(client, trigger(client).json()['id'])
        assert [d['event_type'] for d in _deliveries(client)] == ['ping']
        assert client.patch(f'{RULES}/{rule["id"]}', json={'enabled': True}).status_code == 200
        run = wait_for_status(client, trigger(client).json()['id'])
        request = rx.wait_for(2)[1]
        assert json.loads(request.body)['run']['id'] == run['id']


def test_the_log_says_which_deliveries_wait_for_their_switched_off_rule(settings_factory, repo_factory) -> None:  # noqa: ANN001
    # nothing listens on port 9: the ping fails and is to be retried
    settings = settings_factory(**{**FAST, 'notification_backoff_seconds': [60]})
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo_factory())
        rule = _rule(client, 'http://127.0.0.1:9/hook')
        ping = client.post(f'{RULES}/{rule["id"]}/test').json()
        assert (ping['status'], ping['rule_enabled']) == ('failed', True)
        assert client.patch(f'{RULES}/{rule["id"]}', json={'enabled': False}).status_code == 200
        [listed] = _deliveries(client)
        assert (listed['status'], listed['rule_enabled']) == ('failed', False)
        assert client.get(f'/api/deliveries/{ping["id"]}').json()['rule_enabled'] is False


def test_a_receiver_that_does_not_answer_delays_nothing_but_its_own_delivery(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('exit 1'), 'ok': shell_script('echo fine')})
    settings = settings_factory(**FAST)
    with (
        receiver(held=1) as rx,
        receiver() as other,
        api_server(settings) as server,
        server.client() as client,
    ):
        create_project(client, repo)
        _rule(client, rx.url, events=['run.failed'])
        _rule(client, other.url, events=['run.succeeded'])
        wait_for_status(client, trigger(client).json()['id'])
        rx.wait_for(1)  # the receiver has the failure's delivery and does not answer
        [stuck] = _deliveries(client, event_type='run.failed')
        # while that attempt waits for its answer, admission, the engine and other deliveries go on
        assert wait_for_status(client, trigger(client, branch='ok').json()['id'])['status'] == 'succeeded'
        assert json.loads(other.wait_for(1, timeout=20)[0].body)['type'] == 'run.succeeded'
        assert client.get(f'/api/deliveries/{stuck["id"]}').json()['attempts'] == 0  # still being sent
        assert rx.answered == 0
        rx.release()
        settled = _settled(client, stuck['id'])
        assert settled['status'] == 'delivered'
        assert [(a['status_code'], a['error']) for a in settled['attempt_log']] == [(200, None)]


def test_a_hanging_receiver_with_a_backlog_holds_only_its_rules_share_of_the_sender(
    settings_factory, repo_factory
) -> None:  # noqa: ANN001
    """20 deliveries of a rule whose receiver hangs fall due before a healthy rule's one: the server sends the
    hanging rule only its share at once, and the healthy rule's delivery arrives while those wait for an answer."""
    repo = repo_factory({'main': shell_script('exit 1')})
    settings = settings_factory(**FAST)
    with (
        receiver(held=100) as hanging,
        receiver() as healthy,
        api_server(settings) as server,
        server.client() as client,
    ):
        create_project(client, repo)
        stuck_rule = _rule(client, hanging.url)
        ok_rule = _rule(client, healthy.url)
        client.patch(f'{RULES}/{stuck_rule["id"]}', json={'enabled': False}).raise_for_status()
        client.patch(f'{RULES}/{ok_rule["id"]}', json={'enabled': False}).raise_for_status()
        earlier = utcnow() - timedelta(minutes=5)
        with session_scope(server.services.engine) as session:
            for n in range(20):  # older than the healthy rule's: first in line
                facts = EventFacts(f'evt_{n}', 'ping', earlier, '', {'id': 'proj', 'name': 'Proj'})
                made = earlier + timedelta(seconds=n)
                insert_deliveries(session.connection(), [stuck_rule['id']], facts, event_key=f'ping:{n}', now=made)
            facts = EventFacts('evt_ok', 'ping', utcnow(), '', {'id': 'proj', 'name': 'Proj'})
            insert_deliveries(session.connection(), [ok_rule['id']], facts, event_key='ping:ok')
        for rule in (stuck_rule, ok_rule):  # both at once: the sender sees the whole backlog in one pass
            client.patch(f'{RULES}/{rule["id"]}', json={'enabled': True}).raise_for_status()

        assert json.loads(healthy.wait_for(1, timeout=10)[0].body)['type'] == 'ping'
        [arrived] = _deliveries(client, rule=ok_rule['id'])
        assert _settled(client, arrived['id'])['status'] == 'delivered'
        time.sleep(0.5)  # several polls later, the hanging rule still has only its share under way
        assert len(hanging.requests) == PER_RULE_IN_FLIGHT and hanging.answered == 0


def test_an_attempt_without_an_answer_in_time_is_logged_as_such_and_retried(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('exit 1')})
    settings = settings_factory(**{**FAST, 'notification_timeout_seconds': 1.0})
    with receiver(delays=(3.0,)) as rx, api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        _rule(client, rx.url, events=['run.failed'])
        wait_for_status(client, trigger(client).json()['id'])
        [delivery] = _deliveries(client)
        settled = _settled(client, delivery['id'])
        assert settled['status'] == 'delivered'
        assert [(a['status_code'], a['error']) for a in settled['attempt_log']] == [
            (None, 'no answer within 1 s'),
            (200, None),
        ]
        assert settled['attempt_log'][0]['duration_ms'] >= 950
        assert len(rx.requests) == 2


def test_a_server_stopped_mid_send_lets_the_next_one_send_at_once(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('exit 1')})
    settings = settings_factory(**FAST)  # a claim would lapse after 50 s (twice the 10 s timeout, plus 30 s)
    with receiver(held=1) as rx:
        with api_server(settings) as server, server.client() as client:
            create_project(client, repo)
            _rule(client, rx.url)
            wait_for_status(client, trigger(client).json()['id'])
            first = rx.wait_for(1)[0]  # the receiver has it and has not answered: the server stops now
        stopped = time.monotonic()
        with api_server(settings) as server, server.client() as client:
            second = rx.wait_for(2, timeout=20)[1]
            assert time.monotonic() - stopped < 20  # released by the stopping server, not left to lapse
            assert second.headers['x-runboard-delivery'] == first.headers['x-runboard-delivery']
            settled = _settled(client, first.headers['x-runboard-delivery'])
            assert settled['status'] == 'delivered' and [a['status_code'] for a in settled['attempt_log']] == [200]


def test_redeliver_all_that_gave_up_queues_each_once_and_says_what_it_skipped(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """A rule's deliveries that gave up in the last 24 hours are queued again in one call (operators); the answer
    counts them and what it skipped, why. A second call, or two at once, while they wait queues none twice; once they
    were delivered, a call skips them as delivered since; one that gave up before the window waits for a wider one."""
    settings = settings_factory(**{**FAST, 'notification_max_attempts': 1})
    with receiver(500, 500, 500, 500) as rx, api_server(settings) as server, server.client() as client:
        create_project(client, repo_factory())
        rule = _rule(client, rx.url)
        other = _rule(client, rx.url + '/other')
        bulk = f'{RULES}/{rule["id"]}/redeliver-gave-up'
        pings = [client.post(f'{RULES}/{rule["id"]}/test').json() for _ in range(3)]
        assert [p['status'] for p in pings] == ['gave_up'] * 3
        assert client.post(f'{RULES}/{other["id"]}/test').json()['status'] == 'gave_up'  # another rule's: not its
        old, *recent = (p['id'] for p in pings)
        deliveries = NotificationRule.metadata.tables['delivery']
        with session_scope(server.services.engine) as session:  # the first one gave up two days ago
            session.connection().execute(
                update(deliveries).where(deliveries.c.id == old).values(gave_up_at=utcnow() - timedelta(days=2))
            )

        preview = client.post(bulk, json={'dry_run': True})
        assert preview.status_code == 200, preview.text
        assert (preview.json()['queued'], preview.json()['skipped'], preview.json()['dry_run']) == (2, 0, True)
        assert {d['status'] for d in _deliveries(client)} == {'gave_up'}  # nothing changed
        # switched off, the queued ones wait: what a second call meets while the first one's are pending
        client.patch(f'{RULES}/{rule["id"]}', json={'enabled': False}).raise_for_status()
        first = client.post(bulk)  # no body: the last 24 hours
        assert first.status_code == 200, first.text
        answer = first.json()
        assert (answer['queued'], answer['skipped'], answer['rule_enabled']) == (2, 0, False)
        assert [(d['id'], d['outcome']) for d in answer['deliveries']] == [(key, 'queued') for key in recent]
        since = datetime.fromisoformat(answer['since'].replace('Z', '+00:00'))
        assert abs((utcnow() - since) - timedelta(hours=24)) < timedelta(minutes=1)
        assert {d['id']: d['status'] for d in _deliveries(client, rule=rule['id'])} == {
            old: 'gave_up',
            recent[0]: 'pending',
            recent[1]: 'pending',
        }
        again = client.post(bulk, json={}).json()
        assert (again['queued'], again['skipped'], again['skipped_by_reason']) == (0, 2, {'redelivery_pending': 2})
        # two calls at once over the wider window: the one that gave up before is queued once, by one of them
        both = post_all([server.base_url], server.token, [(bulk, {'since': '3d'}, {}), (bulk, {'since': '3d'}, {})])
        assert [reply.status_code for reply in both] == [200, 200]
        assert sorted(reply.json()['queued'] for reply in both) == [0, 1]
        assert sum(reply.json()['skipped_by_reason'].get('redelivery_pending', 0) for reply in both) == 5

        client.patch(f'{RULES}/{rule["id"]}', json={'enabled': True}).raise_for_status()
        for key in (old, *recent):  # each sent once more, under its own id, and delivered (the receiver says 200 now)
            assert _settled(client, key)['status'] == 'delivered'
        sent = [r.headers['x-runboard-delivery'] for r in rx.requests[4:]]
        assert sorted(sent) == sorted([old, *recent])
        after = client.post(bulk, json={'since': '3d'}).json()
        assert (after['queued'], after['skipped_by_reason']) == (0, {'delivered_since': 3})
        assert _deliveries(client, rule=other['id'])[0]['status'] == 'gave_up'  # the other rule's untouched

        # bad input, builders, other teams
        body = assert_problem(client.post(bulk, json={'since': 'yesterday'}), 422, 'validation')
        assert body['field'] == 'since'
        assert_problem(client.post(bulk, json={'since': '40d'}), 422, 'validation')
        assert_problem(client.post(bulk, json={'hours': 3}), 422, 'validation')
        assert_problem(client.post(f'{RULES}/ntf_nope/redeliver-gave-up'), 404, 'not_found')
        with server.client(add_user(server, role=Role.builder, name='bob')) as builder:
            assert_problem(builder.post(bulk), 403, 'forbidden')
        with server.client(add_user(server, team='other', role=Role.operator, name='eve')) as stranger:
            assert_problem(stranger.post(bulk), 404, 'not_found')
