"""`runboard notifications`: an operator adds a webhook (its secret printed once), lists it, tests it, reads the
delivery log of a failed run, redelivers, switches it off and removes it; builders get exit code 4 on changes."""

from __future__ import annotations

import time

import pytest

from app.cli.notifications import rule_changes
from app.models import Role
from app.services.notifications.signature import verify
from tests.helpers.api import add_user
from tests.helpers.cli import run_cli, served
from tests.helpers.webhooks import receiver

# the test's receiver listens on 127.0.0.1, which team mode refuses by default (docs/security.md)
FAST = dict(
    notification_backoff_seconds=[0.3],
    notification_poll_seconds=0.2,
    notification_max_attempts=2,
    webhook_allowed_hosts='loopback',
)


def test_the_whole_round_from_the_command_line(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with receiver(500) as rx, served(settings_factory, repo_factory, **FAST) as (server, cli):
        added = cli('notifications', 'add', 'proj', rx.url, '--event', 'run.failed', '--name', 'ops', '--json')
        assert added.code == 0, added.stderr
        rule = added.json()
        assert rule['secret'].startswith('whsec_') and rule['events'] == ['run.failed']
        shown = cli('notifications', 'add', 'proj', rx.url + '/2', '--format', 'slack', '--event', 'run.succeeded')
        assert shown.code == 0 and 'Signing secret (shown only now): whsec_' in shown.stdout

        listed = cli('notifications', 'list', 'proj')
        assert listed.code == 0 and rule['id'] in listed.stdout and 'whsec_' not in listed.stdout

        # the ping meets a 500: the command exits 1 and says it is retried
        tested = cli('notifications', 'test', 'proj', rule['id'])
        assert tested.code == 1, tested.stdout
        assert 'ping' in tested.stdout and 'retrying' in tested.stdout

        failed = cli('runs', 'trigger', '-p', 'proj', '-b', 'main', '-d', 'deep', '-f', 'python', '--follow')
        assert failed.code == 1
        deadline = time.monotonic() + 30
        while True:  # both delivered (the ping on its retry)
            log = cli('notifications', 'deliveries', 'proj', '--json')
            assert log.code == 0
            events = {item['event_type']: item for item in log.json()['items']}
            if set(events) == {'run.failed', 'ping'} and all(e['status'] == 'delivered' for e in events.values()):
                break
            assert time.monotonic() < deadline, events
            time.sleep(0.1)
        request = rx.of_event('run.failed')[-1]
        assert verify(rule['secret'], request.headers['x-runboard-signature'], request.body, now=time.time())
        assert [a['status_code'] for a in events['ping']['attempt_log']] == [500, 200]
        assert [a['status_code'] for a in events['run.failed']['attempt_log']] == [200]
        table = cli('notifications', 'deliveries', 'proj', '--status', 'delivered')
        assert table.code == 0 and events['ping']['id'] in table.stdout and 'HTTP 500' in table.stdout
        # the next page's hint goes to stderr, as runs list's: piped stdout is the rows only
        newest, oldest = (item['id'] for item in log.json()['items'])
        page = cli('notifications', 'deliveries', 'proj', '-n', '1')
        assert page.code == 0 and newest in page.stdout and oldest not in page.stdout
        assert f'More: --cursor {newest}' in page.stderr and 'More' not in page.stdout

        again = cli('notifications', 'redeliver', events['run.failed']['id'])
        assert again.code == 0 and 'delivered (HTTP 200) after 2 attempts' in again.stdout
        assert rx.of_event('run.failed')[-1].headers['x-runboard-delivery'] == events['run.failed']['id']

        assert cli('notifications', 'disable', 'proj', rule['id']).stdout.strip() == f'{rule["id"]} is off.'
        builder = add_user(server, role=Role.builder, name='bob')
        assert run_cli(server.base_url, builder, 'notifications', 'list', 'proj').code == 0
        assert run_cli(server.base_url, builder, 'notifications', 'remove', 'proj', rule['id']).code == 4
        assert run_cli(server.base_url, builder, 'notifications', 'redeliver', events['ping']['id']).code == 4
        removed = cli('notifications', 'remove', 'proj', rule['id'])
        assert removed.code == 0 and rule['id'] in removed.stdout
        assert cli('notifications', 'remove', 'proj', rule['id']).code == 4


def test_an_operator_rotates_a_rules_secret_from_the_command_line(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with receiver() as rx, served(settings_factory, repo_factory, **FAST) as (server, cli):
        rule = cli('notifications', 'add', 'proj', rx.url, '--json').json()
        rotated = cli('notifications', 'rotate-secret', 'proj', rule['id'])
        assert rotated.code == 0, rotated.stderr
        secret = rotated.stdout.split('(shown only now): ')[1].split()[0]
        assert secret.startswith('whsec_') and secret != rule['secret']
        assert 'whsec_' not in cli('notifications', 'list', 'proj').stdout

        assert cli('notifications', 'test', 'proj', rule['id']).code == 0
        request = rx.of_event('ping')[-1]
        signed = request.headers['x-runboard-signature']
        assert verify(secret, signed, request.body, now=time.time())  # signed with the new secret
        assert verify(rule['secret'], signed, request.body, now=time.time())  # and, for a day, the one it replaced
        assert not verify('whsec_another', signed, request.body, now=time.time())

        as_json = cli('notifications', 'rotate-secret', 'proj', rule['id'], '--json')
        assert as_json.code == 0 and as_json.json()['secret'] not in (secret, rule['secret'])
        builder = add_user(server, role=Role.builder, name='bob')
        assert run_cli(server.base_url, builder, 'notifications', 'rotate-secret', 'proj', rule['id']).code == 4


@pytest.mark.parametrize(
    ('url', 'events', 'fmt', 'name', 'sent'),
    [
        (None, None, None, 'ops', {'name': 'ops'}),
        ('https://x.test/h', None, None, None, {'url': 'https://x.test/h'}),
        (None, ['run.failed', 'run.succeeded'], None, None, {'events': ['run.failed', 'run.succeeded']}),
        (None, None, 'slack', None, {'format': 'slack'}),
        (
            'https://x.test/h',
            ['run.failed'],
            'runboard',
            'a',
            {'url': 'https://x.test/h', 'events': ['run.failed'], 'format': 'runboard', 'name': 'a'},
        ),
        (None, [], None, None, {}),  # typer's "no --event": nothing to change, not "no events"
        (None, None, None, None, {}),
    ],
)
def test_an_edit_sends_only_what_was_given(url, events, fmt, name, sent) -> None:  # noqa: ANN001
    assert rule_changes(url, events, fmt, name) == sent


def test_an_operator_edits_a_rule_from_the_command_line(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """`notifications edit PROJECT RULE_ID`: what is given changes, what is left out stays (also what another operator
    changed meanwhile); --json is the rule; a missing rule is exit 4 and a refused value exit 2, each with the
    correlation id (and the problem object with --json); nothing to change is a usage error; builders exit 4."""
    with receiver() as rx, served(settings_factory, repo_factory, **FAST) as (server, cli):
        rule = cli('notifications', 'add', 'proj', rx.url, '--event', 'run.failed', '--name', 'ops', '--json').json()
        with server.client() as api:  # another operator renames it meanwhile (the UI, another script)
            assert api.patch(f'/api/projects/proj/notifications/{rule["id"]}', json={'name': 'oncall'}).is_success

        edited = cli('notifications', 'edit', 'proj', rule['id'], '-e', 'run.failed', '-e', 'run.succeeded')
        assert edited.code == 0, edited.stderr
        assert edited.stdout.strip() == (
            f'Changed {rule["id"]} (oncall): Run failed, Run succeeded, runboard -> {rx.url} (version 3)'
        )
        as_json = cli(
            'notifications', 'edit', 'proj', rule['id'], '--format', 'slack', '--url', rx.url + '/2', '--json'
        )
        assert as_json.code == 0, as_json.stderr
        changed = as_json.json()
        assert (changed['name'], changed['events'], changed['format'], changed['url'], changed['enabled']) == (
            'oncall',
            ['run.failed', 'run.succeeded'],
            'slack',
            rx.url + '/2',
            True,
        )
        assert 'secret' not in changed and as_json.stderr == ''
        renamed = cli('notifications', 'edit', 'proj', rule['id'], '--name', 'ops team', '--json').json()
        assert renamed['name'] == 'ops team' and renamed['format'] == 'slack'
        assert cli('notifications', 'list', 'proj', '--json').json() == [renamed]

        missing = cli('notifications', 'edit', 'proj', 'ntf_nope', '--name', 'x')
        assert missing.code == 4 and missing.stdout == ''
        assert "notification rule 'ntf_nope' not found (HTTP 404 not_found)" in missing.stderr
        assert 'Correlation id: ' in missing.stderr
        missing_json = cli('notifications', 'edit', 'proj', 'ntf_nope', '--name', 'x', '--json')
        assert missing_json.code == 4 and missing_json.json()['error'] == 'not_found'
        assert f'Correlation id: {missing_json.json()["correlation_id"]}' in missing_json.stderr

        for refused_args in (('--url', 'ftp://example.com/x'), ('--format', 'xml'), ('--event', 'run.lost')):
            refused = cli('notifications', 'edit', 'proj', rule['id'], *refused_args, '--json')
            assert refused.code == 2, (refused_args, refused.stderr)
            problem = refused.json()
            assert problem['status'] == 422 and problem['error'] == 'validation', problem
            assert f'Correlation id: {problem["correlation_id"]}' in refused.stderr
        assert cli('notifications', 'list', 'proj', '--json').json()[0]['format'] == 'slack'  # refused: unchanged

        nothing = cli('notifications', 'edit', 'proj', rule['id'])
        assert nothing.code == 2 and 'say what to change' in nothing.stderr

        # --if-version: the version read; changed by someone else since, nothing is saved and the exit code is 3
        read = renamed['version']
        with server.client() as api:
            assert api.patch(f'/api/projects/proj/notifications/{rule["id"]}', json={'name': 'theirs'}).is_success
        stale = cli('notifications', 'edit', 'proj', rule['id'], '--name', 'mine', '--if-version', str(read))
        assert stale.code == 3 and stale.stdout == ''
        said = ' '.join(stale.stderr.split())
        assert f'was changed by someone else since you read it (version {read}, now {read + 1})' in said, said
        assert '(HTTP 409 edit_conflict)' in said and 'Correlation id: ' in said
        assert cli('notifications', 'list', 'proj', '--json').json()[0]['name'] == 'theirs'
        current = cli('notifications', 'edit', 'proj', rule['id'], '--name', 'mine', '--if-version', str(read + 1))
        assert current.code == 0 and current.stdout.strip().endswith(f'(version {read + 2})'), current.stderr
        builder = add_user(server, role=Role.builder, name='bob')
        as_builder = run_cli(server.base_url, builder, 'notifications', 'edit', 'proj', rule['id'], '--name', 'b')
        assert as_builder.code == 4 and 'Correlation id: ' in as_builder.stderr


def test_deliveries_of_a_mistyped_rule_are_not_found_not_none(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """`deliveries PROJECT --rule RULE_ID` of a rule that does not exist: exit 4 (a rule's log goes with it), not an
    empty log; a rule with no deliveries yet is one."""
    with receiver() as rx, served(settings_factory, repo_factory, **FAST) as (_server, cli):
        rule = cli('notifications', 'add', 'proj', rx.url, '--json').json()
        none = cli('notifications', 'deliveries', 'proj', '--rule', rule['id'])
        assert none.code == 0 and none.stdout.strip() == 'No deliveries.', none.stderr
        missing = cli('notifications', 'deliveries', 'proj', '--rule', 'ntf_nope')
        assert missing.code == 4 and missing.stdout == ''
        assert "notification rule 'ntf_nope' not found" in missing.stderr and 'Correlation id: ' in missing.stderr
        as_json = cli('notifications', 'deliveries', 'proj', '-r', 'ntf_nope', '--json')
        assert as_json.code == 4 and as_json.json()['error'] == 'not_found'


def test_bad_input_is_a_usage_error(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with served(settings_factory, repo_factory) as (_server, cli):
        refused = cli('notifications', 'add', 'proj', 'ftp://example.com/x')
        assert refused.code == 2 and 'http:// or https://' in refused.stderr
        assert cli('notifications', 'deliveries', 'proj', '--status', 'lost').code == 2


def test_deliveries_show_prints_one_delivery_and_its_answers_to_operators(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """`deliveries show DELIVERY_ID`: the delivery, each attempt, and to an operator what the receiver answered (as
    inert text: its colour codes gone); a builder sees the rest and is told the answers are the operators'; an unknown
    id is exit 4. `deliveries PROJECT` still lists."""
    answer = b'\x1b[31mnope:\x1b[0m signature mismatch\nsecond line'
    with (
        receiver(500, body=answer, content_type='text/plain; charset=utf-8') as rx,
        served(settings_factory, repo_factory, **FAST) as (server, cli),
    ):
        rule = cli('notifications', 'add', 'proj', rx.url, '--json').json()
        ping = cli('notifications', 'test', 'proj', rule['id'], '--json')
        assert ping.code == 1, ping.stderr  # the 500; retried
        delivery_id = ping.json()['id']
        deadline = time.monotonic() + 30
        while (shown := cli('notifications', 'deliveries', 'show', delivery_id, '--json')).json()['status'] != (
            'delivered'
        ):
            assert time.monotonic() < deadline, shown.stdout
            time.sleep(0.1)
        assert shown.code == 0
        detail = shown.json()
        assert detail['answers_shown'] is True and detail['payload'].encode() == rx.requests[0].body
        assert [a['answer']['excerpt'] for a in detail['attempt_log']] == ['nope: signature mismatch\nsecond line'] * 2

        human = cli('notifications', 'deliveries', 'show', delivery_id)
        assert human.code == 0, human.stderr
        out = human.stdout
        assert out.splitlines()[0].split() == ['Delivery', delivery_id]
        assert 'Test (ping) (ping,' in out and 'delivered (HTTP 200) after 2 attempts' in out
        assert '#1 · ' in out and 'HTTP 500' in out and '#2 · ' in out
        assert out.count('Answer: text/plain; charset=utf-8 · the whole body') == 2
        assert '│ nope: signature mismatch' in out and '│ second line' in out and '\x1b' not in out
        assert 'Body sent' in out and '"type": "ping"' in out

        builder = add_user(server, role=Role.builder, name='bob')
        as_builder = run_cli(server.base_url, builder, 'notifications', 'deliveries', 'show', delivery_id)
        assert as_builder.code == 0, as_builder.stderr
        assert delivery_id in as_builder.stdout and 'signature mismatch' not in as_builder.stdout
        assert 'What the receiver answered is shown to operators only.' in as_builder.stdout
        as_json = run_cli(server.base_url, builder, 'notifications', 'deliveries', 'show', delivery_id, '--json')
        assert 'signature mismatch' not in as_json.stdout and as_json.json()['answers_shown'] is False

        missing = cli('notifications', 'deliveries', 'show', 'dlv_nope')
        assert missing.code == 4 and "delivery 'dlv_nope' not found" in missing.stderr
        missing_json = cli('notifications', 'deliveries', 'show', 'dlv_nope', '--json')
        assert missing_json.code == 4 and missing_json.json()['error'] == 'not_found'

        # the list, both ways: `deliveries PROJECT` as before, and `deliveries list PROJECT`
        for args in (
            ('deliveries', 'proj'),
            ('deliveries', 'list', 'proj'),
            ('deliveries', '--status', 'delivered', 'proj'),
        ):
            listed = cli('notifications', *args)
            assert listed.code == 0 and delivery_id in listed.stdout, (args, listed.stderr)


def test_redeliver_gave_up_queues_a_rules_given_up_deliveries_once(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """`notifications redeliver-gave-up PROJECT RULE_ID`: counts with --dry-run, queues the rule's deliveries that
    gave up (the last 24 hours, or --since), says what it skipped and why; a second run queues none twice; builders
    exit 4, a bad --since exit 2."""
    with (
        receiver(500, 500) as rx,
        served(settings_factory, repo_factory, **{**FAST, 'notification_max_attempts': 1}) as (
            server,
            cli,
        ),
    ):
        rule = cli('notifications', 'add', 'proj', rx.url, '--json').json()
        for _ in range(2):
            assert cli('notifications', 'test', 'proj', rule['id']).code == 1  # 500, and given up at once
        cli('notifications', 'disable', 'proj', rule['id'])  # what is queued waits: a second run meets it pending

        counted = cli('notifications', 'redeliver-gave-up', 'proj', rule['id'], '--dry-run')
        assert counted.code == 0, counted.stderr
        assert counted.stdout.strip() == (
            f'Would queue 2 deliveries of “{rule["id"]}” again. The webhook is switched off: they wait until it is '
            'switched on.'
        )
        done = cli('notifications', 'redeliver-gave-up', 'proj', rule['id'])
        assert done.code == 0, done.stderr
        assert done.stdout.strip() == (
            f'Queued 2 deliveries of “{rule["id"]}” again. The webhook is switched off: they wait until it is '
            'switched on.'
        )
        again = cli('notifications', 'redeliver-gave-up', 'proj', rule['id'], '--since', '2h', '--json')
        assert again.code == 0 and (again.json()['queued'], again.json()['skipped_by_reason']) == (
            0,
            {'redelivery_pending': 2},
        )
        human = cli('notifications', 'redeliver-gave-up', 'proj', rule['id'])
        assert human.stdout.strip() == (
            f'Queued 0 deliveries of “{rule["id"]}” again; 2 skipped: 2 already redelivered and waiting or retrying.'
        )
        assert cli('notifications', 'redeliver-gave-up', 'proj', rule['id'], '--since', 'soon').code == 2
        builder = add_user(server, role=Role.builder, name='bob')
        assert run_cli(server.base_url, builder, 'notifications', 'redeliver-gave-up', 'proj', rule['id']).code == 4
        cli('notifications', 'enable', 'proj', rule['id'])
        rx.wait_for(4)  # each sent once more
        time.sleep(0.5)
        assert len(rx.requests) == 4
