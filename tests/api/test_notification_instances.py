"""Two servers on one database never send one delivery twice: the claim is decided by the database (FOR UPDATE
SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite), shown with claims racing from many threads on every
backend, and end to end with two real server instances on PostgreSQL + Redis (every instance is woken by every
run's end over Redis pub/sub, and they race for the same deliveries)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from app.container import build_services
from app.infra.db import session_scope
from app.models import ProjectCreate, RuleCreate, utcnow
from app.services.notifications import store as notify_store
from app.services.notifications import webhooks as notifications
from app.services.notifications.outbox import insert_deliveries
from app.services.notifications.payloads import EventFacts
from app.services.notifications.rules import AttemptVerdict
from app.services.notifications.webhook_policy import parse_policy
from app.services.projects import manage as projects
from tests.helpers.afk import close_services
from tests.helpers.repos import make_repo
from tests.helpers.runs import create_project, shell_script, trigger, wait_for_status
from tests.helpers.servers import api_server
from tests.helpers.webhooks import receiver

# the test's receiver listens on 127.0.0.1, which team mode refuses by default (docs/security.md)
FAST = dict(notification_backoff_seconds=[0.3], notification_poll_seconds=0.2, webhook_allowed_hosts='loopback')


def test_racing_claims_take_each_delivery_once(settings_factory, tmp_path) -> None:  # noqa: ANN001
    """Six servers race to claim 60 deliveries of three rules, four at most per rule each: every delivery is
    claimed by one server, and no server holds more than its share of one rule."""
    services = build_services(settings_factory())  # not started: no sender of its own
    try:
        principal = services.auth.authenticate(services.local_token)
        repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': 'exit 1\n'}})
        body = {'id': 'proj', 'name': 'Proj', 'repository': str(repo), 'command': ['sh', 'run.sh']}
        projects.create_project(services.engine, principal, ProjectCreate(**body))
        rule_ids = [
            notifications.create_rule(
                services.engine,
                services.repositories.secrets,
                principal,
                'proj',
                RuleCreate(url=f'http://127.0.0.1:9/hook/{n}'),
                policy=parse_policy('loopback', team_mode=True),  # claimed here, never sent
            ).id
            for n in range(3)
        ]
        made: dict[str, str] = {}  # delivery id -> its rule
        with session_scope(services.engine) as session:
            for n in range(60):
                facts = EventFacts(f'evt_{n}', 'ping', utcnow(), '', {'id': 'proj', 'name': 'Proj'})
                rule_id = rule_ids[n % 3]
                for made_id in insert_deliveries(session.connection(), [rule_id], facts, event_key=f'ping:{n}'):
                    made[made_id] = rule_id
        claimed: list[tuple[str, str]] = []  # (server, delivery id)
        lock = threading.Lock()

        def server(name: str) -> None:
            # as the sender loops: a claim another server won first comes back empty; go on while any is left to it
            while notify_store.seconds_until_due(services.engine, name, per_rule=4, cap=1) == 0:
                found = notify_store.claim_due(
                    services.engine, name, base_url='http://rb', limit=4, per_rule=4, lease=60
                )
                with lock:
                    claimed.extend((name, one.id) for one in found)

        threads = [threading.Thread(target=server, args=(f'instance-{i}',)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        ids = [delivery_id for _, delivery_id in claimed]
        assert Counter(ids).most_common(1)[0][1] == 1  # no delivery claimed twice
        assert sorted(ids) == sorted(made)  # and every one claimed (6 servers x 4 per rule >= 20 per rule)
        held_per_rule = Counter((name, made[delivery_id]) for name, delivery_id in claimed)
        assert max(held_per_rule.values()) == 4
    finally:
        close_services(services)


def test_a_sender_whose_claim_ran_out_does_not_overwrite_the_one_that_took_over(settings_factory, tmp_path) -> None:  # noqa: ANN001
    """Server a stalls past its lease while sending; server b takes the delivery over and delivers it. When a wakes
    and records its late failure, the delivery stays delivered, and b's attempt is the one on record."""
    services = build_services(settings_factory())  # not started: no sender of its own
    try:
        principal = services.auth.authenticate(services.local_token)
        repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': 'exit 1\n'}})
        body = {'id': 'proj', 'name': 'Proj', 'repository': str(repo), 'command': ['sh', 'run.sh']}
        projects.create_project(services.engine, principal, ProjectCreate(**body))
        rule = notifications.create_rule(
            services.engine,
            services.repositories.secrets,
            principal,
            'proj',
            RuleCreate(url='http://127.0.0.1:9/hook'),
            policy=parse_policy('loopback', team_mode=True),
        )
        with session_scope(services.engine) as session:
            facts = EventFacts('evt_late', 'ping', utcnow(), '', {'id': 'proj', 'name': 'Proj'})
            [made] = insert_deliveries(session.connection(), [rule.id], facts, event_key='ping:late')
        claim = notify_store.claim_due
        [stalled] = claim(services.engine, 'a', base_url='http://rb', limit=1, per_rule=4, lease=0.2)
        time.sleep(0.5)  # a's lease runs out
        [taken] = claim(services.engine, 'b', base_url='http://rb', limit=1, per_rule=4, lease=60)
        assert stalled.id == taken.id == made
        ok = notify_store.AttemptResult(200, None, 12)
        assert notify_store.record_attempt(services.engine, 'b', taken, ok, AttemptVerdict('delivered', None))
        late = notify_store.AttemptResult(None, 'ReadTimeout', 30_000)
        assert not notify_store.record_attempt(services.engine, 'a', stalled, late, AttemptVerdict('failed', 5.0))
        with session_scope(services.engine) as session:
            row = session.connection().execute(
                text('SELECT status, attempts, last_status_code FROM delivery WHERE id = :id'), {'id': made}
            )
            assert tuple(row.one()) == ('delivered', 1, 200)
    finally:
        close_services(services)


@pytest.mark.parametrize('backend', ['team'])  # two instances share PostgreSQL + Redis (the race above: SQLite too)
def test_two_server_instances_deliver_each_event_exactly_once(settings_factory, repo_factory) -> None:  # noqa: ANN001
    branches = [f'b{i}' for i in range(6)]
    repo = repo_factory({'main': shell_script('exit 1'), **{b: shell_script(f'echo {b}; exit 1') for b in branches}})
    key = Fernet.generate_key().decode()  # team mode: every instance has the same secret key
    first = settings_factory(**FAST, secret_key=key)
    second = settings_factory(**FAST, secret_key=key, database_url=first.effective_database_url)
    with (
        receiver() as rx,
        api_server(first) as a,
        api_server(second) as b,
        a.client() as client_a,
        b.client(a.token) as client_b,
    ):
        create_project(client_a, repo, max_concurrent_runs=10)
        reply = client_b.post('/api/projects/proj/notifications', json={'url': rx.url, 'events': ['run.failed']})
        assert reply.status_code == 201, reply.text
        runs = [
            trigger(client, branch=branch).json()['id']
            for client, branch in zip([client_a, client_b] * 3, branches, strict=True)
        ]
        for run_id in runs:
            assert wait_for_status(client_a, run_id)['status'] == 'failed'
        requests = rx.wait_for(len(runs))
        deadline = time.monotonic() + 30
        while True:
            items = client_a.get('/api/projects/proj/deliveries', params={'limit': 50}).json()['items']
            if len(items) == len(runs) and all(item['status'] == 'delivered' for item in items):
                break
            assert time.monotonic() < deadline, items
            time.sleep(0.05)
        # both servers have been through their loop again since (several poll intervals): still one each
        time.sleep(1.0)
        assert len(rx.requests) == len(runs)
        assert sorted(r.headers['x-runboard-delivery'] for r in requests) == sorted(item['id'] for item in items)
        assert all(item['attempts'] == 1 for item in items)
        assert sorted(item['run_id'] for item in items) == sorted(runs)
