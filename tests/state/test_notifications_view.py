"""How deliveries and attempts read on the Notifications page and in the CLI, which finished runs become a
browser notification (only the person's own, only when they ended), and what the webhook form sends: a new rule's
body, an edit's changes only, and what a save or a refusal says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.state.notifications_view import (
    BrowserAlert,
    answer_heading,
    attempt_text,
    bulk_question,
    bulk_result,
    delivery_state,
    edit_refusal_text,
    events_text,
    is_run_end,
    new_rule_body,
    own_run_alert,
    rule_changes,
    rule_form,
    rule_saved_text,
    seconds_text,
)

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ('seconds', 'text'),
    [(0, '0 s'), (45.4, '45 s'), (60, '1 min'), (150, '2 min 30 s'), (3600, '1 h'), (3900, '1 h 5 min')],
)
def test_seconds_text(seconds: float, text: str) -> None:
    assert seconds_text(seconds) == text


@pytest.mark.parametrize(
    ('attempt', 'text'),
    [
        ({'number': 1, 'status_code': 200, 'error': None, 'duration_ms': 42}, '#1 · HTTP 200 · 42 ms'),
        (
            {'number': 2, 'status_code': 500, 'error': 'HTTP 500: receiver says no', 'duration_ms': 66},
            '#2 · HTTP 500 · 66 ms · receiver says no',
        ),
        ({'number': 3, 'status_code': 502, 'error': 'HTTP 502', 'duration_ms': 5}, '#3 · HTTP 502 · 5 ms'),
        (
            {'number': 4, 'status_code': None, 'error': 'no answer within 10 s', 'duration_ms': 10003},
            '#4 · 10003 ms · no answer within 10 s',
        ),
        (
            {'number': 5, 'status_code': 200, 'error': None, 'duration_ms': 9, 'redelivery': True},
            '#5 · HTTP 200 · 9 ms · redelivered',
        ),
        # when it was made, as the API gives it: the backoff between attempts shows, the receiver's log matches
        (
            {'number': 2, 'at': '2025-01-01T12:00:30.5Z', 'status_code': 500, 'error': 'HTTP 500', 'duration_ms': 4},
            '#2 · 2025-01-01 12:00:30 UTC · HTTP 500 · 4 ms',
        ),
        (
            {
                'number': 3,
                'at': '2025-01-01T12:01:00+00:00',
                'status_code': None,
                'error': 'no answer within 10 s',
                'duration_ms': 10003,
            },
            '#3 · 2025-01-01 12:01:00 UTC · 10003 ms · no answer within 10 s',
        ),
    ],
)
def test_attempt_text(attempt: dict, text: str) -> None:
    assert attempt_text(attempt) == text


@pytest.mark.parametrize(
    ('delivery', 'text'),
    [
        ({'status': 'delivered', 'attempts': 1, 'last_status_code': 204}, 'delivered (HTTP 204) after 1 attempt'),
        ({'status': 'delivered', 'attempts': 3, 'last_status_code': 200}, 'delivered (HTTP 200) after 3 attempts'),
        (
            {'status': 'gave_up', 'attempts': 6, 'last_error': 'HTTP 500'},
            'gave up after 6 attempts: HTTP 500',
        ),
        (
            {'status': 'failed', 'attempts': 2, 'last_error': 'HTTP 500', 'next_attempt_at': '2025-01-01T12:00:30Z'},
            'retrying (2 attempts so far, last: HTTP 500); next attempt in 30 s',
        ),
        ({'status': 'pending', 'attempts': 0, 'next_attempt_at': '2025-01-01T11:59:59Z'}, 'sending now'),
        ({'status': 'pending', 'attempts': 0, 'next_attempt_at': None}, 'sending now'),
        # its rule is switched off: nothing is sent until it is on again, whatever next_attempt_at says
        (
            {
                'status': 'failed',
                'attempts': 2,
                'last_error': 'HTTP 500',
                'rule_enabled': False,
                'next_attempt_at': '2025-01-01T11:59:59Z',
            },
            'waiting: its webhook is switched off (2 attempts so far, last: HTTP 500); sent when it is switched on',
        ),
        (
            {'status': 'pending', 'attempts': 0, 'rule_enabled': False, 'next_attempt_at': '2025-01-01T11:59:59Z'},
            'waiting: its webhook is switched off (0 attempts so far); sent when it is switched on',
        ),
        (
            {'status': 'delivered', 'attempts': 1, 'last_status_code': 204, 'rule_enabled': False},
            'delivered (HTTP 204) after 1 attempt',
        ),
        (
            {'status': 'held', 'attempts': 0, 'next_attempt_at': '2025-01-01T12:59:00Z'},
            'held: the run is to be retried automatically; sent in 59 min if no retry is made',
        ),
        (
            {'status': 'skipped', 'attempts': 0, 'last_error': 'retried as run_2'},
            'not sent: the run was retried as run_2',
        ),
    ],
)
def test_delivery_state(delivery: dict, text: str) -> None:
    assert delivery_state(delivery, NOW) == text


def test_events_text() -> None:
    assert events_text(['run.failed', 'issue.parked']) == 'Run failed, AFK issue parked'


RUN = {
    'id': 'run_1',
    'user_id': 'usr_me',
    'status': 'failed',
    'exit_code': 2,
    'project_id': 'proj',
    'branch_name': 'main',
    'depth_level': 'shallow',
    'target_framework': 'python',
}


@pytest.mark.parametrize(
    ('event', 'ends'),
    [
        ({'type': 'run', 'id': 'run_1', 'status': 'failed'}, True),
        ({'type': 'run', 'id': 'run_1', 'status': 'succeeded'}, True),
        ({'type': 'run', 'id': 'run_1', 'status': 'stopping'}, False),
        ({'type': 'run', 'id': 'run_1', 'status': 'running'}, False),
        ({'type': 'run.output', 'id': 'run_1'}, False),
        ({'type': 'project', 'id': 'proj'}, False),
    ],
)
def test_is_run_end(event: dict, ends: bool) -> None:
    assert is_run_end(event) is ends


@pytest.mark.parametrize(
    ('run', 'me', 'alert'),
    [
        (
            RUN,
            'usr_me',
            BrowserAlert('Run failed (exit code 2)', 'proj · main · shallow/python', '/runs/run_1', 'runboard-run_1'),
        ),
        (
            {**RUN, 'status': 'succeeded', 'exit_code': 0},
            'usr_me',
            BrowserAlert('Run succeeded', 'proj · main · shallow/python', '/runs/run_1', 'runboard-run_1'),
        ),
        ({**RUN, 'status': 'timed_out', 'exit_code': None}, 'usr_me', 'Run timed out'),
        (  # the commit's title once known: which of one's pushes this was
            {**RUN, 'commit_title': 'Fix the parser'},
            'usr_me',
            BrowserAlert(
                'Run failed (exit code 2)',
                'proj · main · shallow/python · Fix the parser',
                '/runs/run_1',
                'runboard-run_1',
            ),
        ),
        (  # its project retries it: the alert says so
            {**RUN, 'retry_planned': {'attempt': 2, 'of': 3}},
            'usr_me',
            BrowserAlert(
                'Run failed (exit code 2)',
                'proj · main · shallow/python · to be retried automatically (attempt 2 of 3)',
                '/runs/run_1',
                'runboard-run_1',
            ),
        ),
        (RUN, 'usr_someone_else', None),  # another person's run
        ({**RUN, 'user_id': None}, 'usr_me', None),  # the AFK loop's run
        (RUN, None, None),  # who am I is unknown
        ({**RUN, 'status': 'running'}, 'usr_me', None),  # not ended
    ],
)
def test_own_run_alert(run: dict, me: str | None, alert: BrowserAlert | str | None) -> None:
    found = own_run_alert(run, me)
    if isinstance(alert, str):
        assert found is not None and found.title == alert
    else:
        assert found == alert


@pytest.mark.parametrize(
    ('answer', 'text'),
    [
        (None, 'No answer body was kept for this attempt.'),
        (
            {'content_type': 'application/json', 'excerpt': '{}', 'truncated': False},
            'application/json · the whole body',
        ),
        ({'content_type': None, 'excerpt': '', 'truncated': False}, 'no Content-Type · an empty body'),
        (
            {'content_type': 'text/html', 'excerpt': '<html>', 'truncated': True},
            'text/html · cut short: the body went on past its first 2 KiB, or stopped coming',
        ),
    ],
)
def test_answer_heading(answer: dict | None, text: str) -> None:
    assert answer_heading(answer) == text


BULK = {'queued': 3, 'skipped': 0, 'skipped_by_reason': {}, 'rule_enabled': True, 'dry_run': True}


@pytest.mark.parametrize(
    ('preview', 'text'),
    [
        (
            BULK,
            'Redeliver 3 deliveries of “ops” that gave up in the last 24 hours? Each is sent again under its own '
            'id, in a new round of attempts.',
        ),
        (
            {**BULK, 'queued': 1, 'skipped': 2, 'skipped_by_reason': {'in_flight': 1, 'redelivery_pending': 1}},
            'Redeliver 1 delivery of “ops” that gave up in the last 24 hours? Each is sent again under its own id, '
            'in a new round of attempts. (2 skipped: 1 being sent right now, 1 already redelivered and waiting or '
            'retrying.)',
        ),
        (
            {**BULK, 'rule_enabled': False},
            'Redeliver 3 deliveries of “ops” that gave up in the last 24 hours? Each is sent again under its own id, '
            'in a new round of attempts. The webhook is switched off: they wait until it is switched on.',
        ),
    ],
)
def test_bulk_question(preview: dict, text: str) -> None:
    assert bulk_question(preview, 'ops') == text


@pytest.mark.parametrize(
    ('answer', 'window', 'text'),
    [
        ({**BULK, 'dry_run': False}, 'in the last 24 hours', 'Queued 3 deliveries of “ops” again.'),
        (BULK, 'since 2h', 'Would queue 3 deliveries of “ops” again.'),
        ({**BULK, 'queued': 0}, 'since 2h', 'Nothing to redeliver: no delivery of “ops” gave up since 2h.'),
        (
            {**BULK, 'dry_run': False, 'queued': 0, 'skipped': 2, 'skipped_by_reason': {'delivered_since': 2}},
            'in the last 24 hours',
            'Queued 0 deliveries of “ops” again; 2 skipped: 2 delivered since.',
        ),
        (
            {**BULK, 'dry_run': False, 'queued': 1, 'rule_enabled': False},
            'in the last 24 hours',
            'Queued 1 delivery of “ops” again. The webhook is switched off: they wait until it is switched on.',
        ),
    ],
)
def test_bulk_result(answer: dict, window: str, text: str) -> None:
    assert bulk_result(answer, 'ops', window) == text


RULE = {
    'id': 'ntf_1',
    'name': 'CI alerts',
    'url': 'https://hooks.example.com/a',
    'format': 'runboard',
    'events': ['run.failed', 'run.crashed'],
    'enabled': True,
}


def test_the_webhook_form_trims_what_was_typed() -> None:
    form = rule_form('  https://hooks.example.com/a ', ' CI alerts ', 'slack', ['run.failed'])
    assert form == {
        'url': 'https://hooks.example.com/a',
        'name': 'CI alerts',
        'format': 'slack',
        'events': ['run.failed'],
    }
    assert rule_form(None, None, 'runboard', [])['name'] == ''


@pytest.mark.parametrize(
    ('name', 'body_has_name'),
    [
        ('CI alerts', True),
        ('', False),  # a new webhook left unnamed is named after its URL's host by the server
    ],
)
def test_adding_leaves_out_a_blank_name(name: str, body_has_name: bool) -> None:
    body = new_rule_body(rule_form('https://h.example/a', name, 'runboard', ['run.failed']))
    assert ('name' in body) is body_has_name and body['url'] == 'https://h.example/a'


@pytest.mark.parametrize(
    ('typed', 'changes'),
    [
        # as it opened: nothing is sent
        ({}, {}),
        # the events ticked in another order are the same events
        ({'events': ['run.crashed', 'run.failed']}, {}),
        ({'url': 'https://hooks.example.com/b'}, {'url': 'https://hooks.example.com/b'}),
        (
            {'url': 'https://hooks.example.com/b', 'events': ['run.failed', 'run.succeeded']},
            {'url': 'https://hooks.example.com/b', 'events': ['run.failed', 'run.succeeded']},
        ),
        ({'format': 'slack'}, {'format': 'slack'}),
        # an emptied name is sent: the server says it may not be blank, at the name's box
        ({'name': ''}, {'name': ''}),
        ({'events': []}, {'events': []}),
    ],
)
def test_an_edit_sends_only_what_changed(typed: dict, changes: dict) -> None:
    form = {key: RULE[key] for key in ('url', 'name', 'format', 'events')} | typed
    assert rule_changes(RULE, form) == changes


@pytest.mark.parametrize(
    ('changed', 'text'),
    [
        (['url'], 'Saved the URL of “CI alerts”.'),
        (['events', 'url'], 'Saved the URL and events of “CI alerts”.'),  # in the form's order
        (['format', 'name', 'url'], 'Saved the URL, name and format of “CI alerts”.'),
        ([], 'Nothing to save: “CI alerts” is as it was.'),
    ],
)
def test_what_a_save_says(changed: list[str], text: str) -> None:
    assert rule_saved_text('CI alerts', changed) == text


@pytest.mark.parametrize(
    ('status', 'error', 'says'),
    [
        (404, 'not_found', 'the webhook was deleted meanwhile'),
        (409, 'edit_conflict', 'someone else changed this webhook since you opened it'),
        (409, 'too_many_rules', None),  # the server's own words, as every form says them
        (422, 'validation', None),  # at the field it names
        (503, 'dependency_unavailable', None),
    ],
)
def test_an_edit_of_a_webhook_deleted_or_changed_meanwhile_says_so(status: int, error: str, says: str | None) -> None:
    text = edit_refusal_text(status, 'CI alerts', error)
    assert (text is None) if says is None else (says in (text or '') and 'Nothing was saved' in (text or ''))
