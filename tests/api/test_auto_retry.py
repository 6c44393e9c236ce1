"""Automatic retries on every backend (docs/pipelines.md, "Automatic retries"; GitLab's `retry:`): a project that
asks for them has a run that ended in one of its chosen statuses retried by Runboard, as the run's person, until it
has run 1 + auto_retry times; each original's log says which run retried it; a run that succeeds, is stopped, or
ended in a status not chosen is not retried; two servers sweeping the same database make one retry per run; a bad
setting is a 422 that changes nothing."""

from __future__ import annotations

import contextlib
import json
import time

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import text

from tests.helpers.api import add_user, assert_problem, same_database
from tests.helpers.cli import run_cli
from tests.helpers.runs import create_project, shell_script, statuses, trigger, wait_for_status
from tests.helpers.servers import api_server
from tests.helpers.webhooks import receiver

# fails until its third attempt (the attempts count in the base branch's run cache, which the retries share)
FLAKY = shell_script(
    'n=$(cat "$RUNBOARD_CACHE_DIR/attempts" 2>/dev/null || echo 0)\n'
    'n=$((n + 1))\n'
    'echo "$n" > "$RUNBOARD_CACHE_DIR/attempts"\n'
    'echo "attempt $n"\n'
    '[ "$n" -ge 3 ]'
)
LONG = shell_script('echo started\nsleep 30')


def runs_of(client: httpx.Client) -> list[dict]:
    return client.get('/api/runs', params={'project': 'proj', 'limit': 100}).json()['items'][::-1]  # oldest first


def wait_for_runs(client: httpx.Client, count: int, timeout: float = 60) -> list[dict]:
    """Until `count` runs of the project exist and have ended; a moment more shows that no other one follows."""
    deadline = time.monotonic() + timeout
    while True:
        runs = runs_of(client)
        if len(runs) >= count and all(run['status'] not in ('queued', 'running') for run in runs):
            time.sleep(3)  # more than one sweep (every 2 s): nothing more is made
            return runs_of(client)
        assert time.monotonic() < deadline, [(run['id'], run['status']) for run in runs]
        time.sleep(0.2)


def test_a_failing_run_is_retried_until_it_succeeds_within_the_limit(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': FLAKY})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo, auto_retry=2, auto_retry_on=['failed'])
        first = trigger(client, key='first').json()
        runs = wait_for_runs(client, 3)
        assert [run['status'] for run in runs] == ['failed', 'failed', 'succeeded']
        assert runs[0]['id'] == first['id']
        assert [run['retry_of'] for run in runs] == [None, runs[0]['id'], runs[1]['id']]
        assert [run['idempotency_key'] for run in runs[1:]] == [
            f'auto-retry:{runs[0]["id"]}',
            f'auto-retry:{runs[1]["id"]}',
        ]
        assert [run['user_id'] for run in runs] == [first['user_id']] * 3  # as the run's person
        said = statuses(client.get(f'/api/runs/{runs[0]["id"]}').json())
        assert f'Retried automatically as {runs[1]["id"]} (attempt 2 of 3, after it failed).' in said
        # the audit log tells the rule's retries from the person's own: as the person, marked automatic
        audit = client.get('/api/audit', params={'action': 'run.retried'}).json()['items']
        assert sorted(entry['target'] for entry in audit) == sorted(run['id'] for run in runs[1:])
        assert all(entry['details']['automatic'] is True for entry in audit), audit
        by_hand = client.post(f'/api/runs/{runs[0]["id"]}/retry')
        assert by_hand.status_code == 201, by_hand.text
        mine = client.get('/api/audit', params={'action': 'run.retried'}).json()['items'][0]
        assert mine['target'] == by_hand.json()['id'] and 'automatic' not in mine['details']


def test_the_limit_holds_and_only_chosen_statuses_are_retried(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('echo no\nexit 1'), 'feature/x': LONG})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)  # off by default: a failure stays as it is
        assert client.get('/api/projects/proj').json()['auto_retry'] == 0
        assert wait_for_status(client, trigger(client, key='off').json()['id'])['status'] == 'failed'
        reply = client.patch('/api/projects/proj', json={'auto_retry': 1, 'auto_retry_on': ['failed']})
        assert reply.status_code == 200, reply.text
        trigger(client, key='on')
        runs = wait_for_runs(client, 3)
        assert [run['status'] for run in runs] == ['failed', 'failed', 'failed']
        assert runs[1]['retry_of'] is None  # made before the rule was set: not retried by it
        assert runs[2]['retry_of'] == runs[1]['id'] and len(runs) == 3  # once, then it stays failed

        stopped = trigger(client, branch='feature/x', key='stop').json()
        wait_for_status(client, stopped['id'], statuses=['running'])
        client.post(f'/api/runs/{stopped["id"]}/stop')
        assert wait_for_status(client, stopped['id'])['status'] == 'stopped'
        time.sleep(3)
        assert not [run for run in runs_of(client) if run['retry_of'] == stopped['id']]  # a person's stop stands

        for bad in ({'auto_retry': 4}, {'auto_retry': -1}, {'auto_retry_on': ['stopped']}, {'auto_retry_on': []}):
            assert_problem(client.patch('/api/projects/proj', json=bad), 422, 'validation')
        assert client.get('/api/projects/proj').json()['auto_retry'] == 1


def test_two_servers_retry_a_run_once(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('echo no\nexit 1')})
    # the second server runs nothing (its cap is 0) but sweeps too. Two local servers share no event bus: a retry the
    # second one queues is found by the first's safety poll (every 30 s by default; a run sat `queued` that long), so
    # the first polls every second here. On Redis the queue event reaches every server.
    settings = settings_factory(reaper_poll_seconds=1.0)
    with api_server(settings) as one, api_server(same_database(settings_factory, settings)) as two:
        with one.client() as client:
            create_project(client, repo, auto_retry=3, auto_retry_on=['failed'])
            trigger(client, key='both')
            runs = wait_for_runs(client, 4)
        assert len(runs) == 4 and [run['status'] for run in runs] == ['failed'] * 4
        assert len({run['retry_of'] for run in runs[1:]}) == 3  # each run retried once
        assert two.base_url != one.base_url


def wait_for_retry_to_wait(client: httpx.Client, run_id: str, timeout: float = 30) -> dict:
    """The run's planned retry once it says why it waits."""
    deadline = time.monotonic() + timeout
    while True:
        planned = client.get(f'/api/runs/{run_id}').json()['retry_planned']
        if planned and planned['waits']:
            return planned
        assert time.monotonic() < deadline, planned
        time.sleep(0.1)


def test_the_cli_sets_and_shows_the_rule(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo_factory({'main': shell_script('true')}))
        changed = run_cli(server.base_url, server.token, 'projects', 'edit', 'proj', '--auto-retry', '2')
        assert changed.code == 0, changed
        shown = run_cli(server.base_url, server.token, 'projects', 'show', 'proj')
        assert 'up to 2 when it crashed or timed out' in shown.stdout, shown.stdout
        args = ('projects', 'edit', 'proj', '--auto-retry-on', 'failed,crashed')
        assert run_cli(server.base_url, server.token, *args).code == 0
        assert client.get('/api/projects/proj').json()['auto_retry_on'] == ['failed', 'crashed']
        bad = run_cli(server.base_url, server.token, 'projects', 'edit', 'proj', '--auto-retry-on', 'stopped')
        assert bad.code != 0 and 'auto_retry_on' in bad.stdout + bad.stderr
        off = run_cli(server.base_url, server.token, 'projects', 'edit', 'proj', '--auto-retry', '0')
        assert off.code == 0
        assert 'never' in run_cli(server.base_url, server.token, 'projects', 'show', 'proj').stdout


def test_a_refused_retry_waits_says_so_once_and_is_made_when_it_may(settings_factory, repo_factory) -> None:  # noqa: ANN001
    # the person's run quota: one run per 10 s, which the first run used; the window outlasts the first run's
    # checkout and failure on a busy machine (3 s did not, once: the retry was made without having to wait). On Redis,
    # two servers sweep (the second runs nothing); local mode's quota is each server's own (in-process), so a second
    # local server would make the retry at once
    settings = settings_factory(rate_limit_runs=1, rate_limit_window_seconds=10)
    second = api_server(same_database(settings_factory, settings)) if settings.redis_url else contextlib.nullcontext()
    with api_server(settings) as server, second, server.client() as client:
        create_project(client, repo_factory({'main': shell_script('exit 1')}), auto_retry=1, auto_retry_on=['failed'])
        first = trigger(client, key='quota').json()
        planned = wait_for_retry_to_wait(client, first['id'])
        assert planned == {'attempt': 2, 'of': 2, 'waits': 'Run limit reached: 1 run per 10 s.'}  # its page says why
        runs = wait_for_runs(client, 2, timeout=60)
        assert [run['status'] for run in runs] == ['failed', 'failed'] and runs[1]['retry_of'] == first['id']
        said = statuses(client.get(f'/api/runs/{first["id"]}').json())
        waits = [line for line in said if line.startswith('Automatic retry (attempt 2 of 2) waits:')]
        assert len(waits) == 1 and 'Run limit reached' in waits[0], (
            said
        )  # said once, though tried every sweep (on two servers)
        assert client.get(f'/api/runs/{first["id"]}').json()['waits_for'] is None  # retried: it waits no more
        assert said[-1] == f'Retried automatically as {runs[1]["id"]} (attempt 2 of 2, after it failed).'


# the test's receiver listens on 127.0.0.1, which team mode refuses by default (docs/security.md)
NOTIFY_FAST = dict(notification_poll_seconds=0.2, webhook_allowed_hosts='loopback')


def notify_on(client: httpx.Client, url: str, events: list[str]) -> None:
    reply = client.post('/api/projects/proj/notifications', json={'url': url, 'events': events})
    assert reply.status_code == 201, reply.text


def deliveries(client: httpx.Client) -> list[dict]:
    return client.get('/api/projects/proj/deliveries', params={'limit': 50}).json()['items'][::-1]  # oldest first


def test_notifications_tell_of_the_last_attempt_not_of_each_retried_one(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': FLAKY})
    with receiver() as rx, api_server(settings_factory(**NOTIFY_FAST)) as server, server.client() as client:
        create_project(client, repo, auto_retry=2, auto_retry_on=['failed'])
        notify_on(client, rx.url, ['run.failed', 'run.succeeded'])
        trigger(client, key='notify')
        runs = wait_for_runs(client, 3)
        assert [run['status'] for run in runs] == ['failed', 'failed', 'succeeded']
        [sent] = rx.wait_for(1)
        time.sleep(1)  # a poll of the sender more: nothing else goes
        assert [r.headers['x-runboard-event'] for r in rx.requests] == ['run.succeeded']
        document = json.loads(sent.body)
        assert document['run']['id'] == runs[2]['id'] and document['run']['attempt'] == 3
        assert document['run']['retry_of'] == runs[1]['id']
        log = deliveries(client)
        assert [(d['event_type'], d['run_id'], d['status']) for d in log] == [
            ('run.failed', runs[0]['id'], 'skipped'),
            ('run.failed', runs[1]['id'], 'skipped'),
            ('run.succeeded', runs[2]['id'], 'delivered'),
        ]
        assert [d['last_error'] for d in log[:2]] == [f'retried as {runs[1]["id"]}', f'retried as {runs[2]["id"]}']
        assert all(client.get(f'/api/runs/{run["id"]}').json()['retry_planned'] is None for run in runs)


def test_a_retry_that_will_not_come_sends_the_held_notification(settings_factory, repo_factory) -> None:  # noqa: ANN001
    # the person's run quota holds the retry back (one run a minute), until the project's rule is turned off
    settings = settings_factory(rate_limit_runs=1, rate_limit_window_seconds=60, **NOTIFY_FAST)
    with receiver() as rx, api_server(settings) as server, server.client() as client:
        create_project(client, repo_factory({'main': shell_script('exit 1')}), auto_retry=2, auto_retry_on=['failed'])
        notify_on(client, rx.url, ['run.failed'])
        first = wait_for_status(client, trigger(client, key='held').json()['id'])
        assert first['status'] == 'failed'
        assert wait_for_retry_to_wait(client, first['id'])['waits'] == 'Run limit reached: 1 run per 60 s.'
        time.sleep(2.5)  # more than a sweep: the retry waits for the quota, and the run's end tells nothing yet
        [held] = deliveries(client)
        assert held['status'] == 'held' and held['next_attempt_at'] is not None and rx.requests == []
        shown = run_cli(server.base_url, server.token, 'notifications', 'deliveries', 'proj')
        assert 'held' in shown.stdout, shown.stdout

        assert client.patch('/api/projects/proj', json={'auto_retry': 0}).status_code == 200
        [sent] = rx.wait_for(1, timeout=15)  # no retry will come: the end is told, as it was
        document = json.loads(sent.body)
        assert document['type'] == 'run.failed' and document['run']['id'] == first['id']
        assert document['run']['attempt'] == 1
        ended = client.get(f'/api/runs/{first["id"]}').json()
        assert ended['retry_planned'] is None and ended['waits_for'] is None  # nothing comes, so nothing waits
        assert [run['id'] for run in runs_of(client)] == [first['id']]


def test_a_retry_refused_for_good_is_said_once_by_two_servers_and_its_end_is_told(
    settings_factory, repo_factory
) -> None:  # noqa: ANN001
    """The person who started the run left its team before it failed: its retry will never be admitted. Whichever of
    two servers finds that first marks the run; its log says so once, no server tries again, and the held
    notification of its end goes at once (not an hour later)."""
    key = Fernet.generate_key().decode()  # both servers read the rule's secret (each data dir would make its own)
    settings = settings_factory(**NOTIFY_FAST, secret_key=key)
    with (
        receiver() as rx,
        api_server(settings) as one,
        api_server(same_database(settings_factory, settings, secret_key=key, **NOTIFY_FAST)) as two,
        one.client() as client,
    ):
        create_project(client, repo_factory({'main': shell_script('sleep 1\nexit 1')}), auto_retry=2)
        client.patch('/api/projects/proj', json={'auto_retry_on': ['failed']})
        notify_on(client, rx.url, ['run.failed'])
        bob = add_user(one, name='bob')
        with one.client(bob) as builder:
            asked = trigger(builder, key='leaving').json()
        with one.services.engine.begin() as conn:  # bob leaves the team while his run is running
            conn.execute(text('DELETE FROM teammember WHERE user_id = :u'), {'u': asked['user_id']})
        assert wait_for_status(client, asked['id'])['status'] == 'failed'
        [sent] = rx.wait_for(1, timeout=15)
        assert json.loads(sent.body)['run']['id'] == asked['id']
        time.sleep(4.5)  # two sweeps more on each server
        said = statuses(client.get(f'/api/runs/{asked["id"]}').json())
        refused = [line for line in said if line.startswith('Automatic retry (attempt 2 of 3) refused:')]
        assert len(refused) == 1 and refused[0].endswith("bob is no longer in the project's team."), said
        assert [run['id'] for run in runs_of(client)] == [asked['id']]
        assert client.get(f'/api/runs/{asked["id"]}').json()['retry_planned'] is None
        assert len(rx.requests) == 1 and two.base_url != one.base_url


def test_a_crash_is_retried_though_many_ends_the_rule_passes_over_came_before_it(
    settings_factory, repo_factory
) -> None:  # noqa: ANN001
    """The sweep weighs the window's ends page by page: sixty failures the rule does not retry (it retries crashes)
    ended first, and the crash after them is still retried within a sweep or two."""
    from app.models import RunStatus
    from app.services.execution.reaper import finish_run

    settings = settings_factory(global_run_cap=0, rate_limit_runs=1000)  # runs wait queued; the test ends them
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo_factory(), auto_retry=1, auto_retry_on=['crashed'], max_concurrent_runs=100)
        for n in range(61):
            run_id = trigger(client, key=f'end-{n}').json()['id']
            status = RunStatus.failed if n < 60 else RunStatus.crashed
            assert finish_run(server.services.engine, run_id=run_id, status=status) is not None
        deadline = time.monotonic() + 30
        while not client.get(f'/api/runs/{run_id}').json()['retried_by']:
            assert time.monotonic() < deadline, 'the crash after sixty failures was not retried'
            time.sleep(0.2)
        retried = [run for run in runs_of(client) if run['retry_of'] is not None]
        assert [run['retry_of'] for run in retried] == [run_id]  # the failures are not retried


def test_a_retry_that_never_ran_tells_the_end_of_the_run_it_retried(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """The failure's notification waits for its automatic retry; a retry that expires in the queue (it never ran)
    has no event of its own, so the failure is told after all, not lost."""
    settings = settings_factory(global_run_cap=1, **NOTIFY_FAST)
    with receiver() as rx, api_server(settings) as server, server.client() as client:
        create_project(
            client, repo_factory({'main': shell_script('sleep 4\nexit 1')}), auto_retry=1, queued_ttl_seconds=2
        )
        client.patch('/api/projects/proj', json={'auto_retry_on': ['failed']})
        notify_on(client, rx.url, ['run.failed'])
        first = trigger(client, key='one').json()
        wait_for_status(client, first['id'], ('running',))  # for 4 s: seen running on a busy machine too
        server.services.settings.global_run_cap = 0  # its retry will wait queued until its TTL ends it
        assert wait_for_status(client, first['id'])['status'] == 'failed'
        deadline = time.monotonic() + 30
        while not (retried := client.get(f'/api/runs/{first["id"]}').json()['retried_by']):
            assert time.monotonic() < deadline, 'not retried'
            time.sleep(0.1)
        assert wait_for_status(client, retried[0], timeout=30)['status'] == 'expired'
        [told] = rx.wait_for(1, timeout=15)
        document = json.loads(told.body)
        assert document['type'] == 'run.failed' and document['run']['id'] == first['id']
        deadline = time.monotonic() + 15  # the receiver has it; its answer is written just after
        while (log := [(d['run_id'], d['status']) for d in deliveries(client)]) != [(first['id'], 'delivered')]:
            assert time.monotonic() < deadline, log
            time.sleep(0.1)
