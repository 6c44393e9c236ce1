"""The bodies webhooks carry: the `runboard` JSON document and the Slack-compatible `{"text": ...}`, for each
kind of event; user text cannot forge Slack links; the body is stable across a store and a reload."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.services.notifications.payloads import EventFacts, body, from_stored, runboard_document, slack_text, stored

AT = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
RUN = {
    'id': 'run_1',
    'status': 'failed',
    'kind': 'manual',
    'branch_name': 'feature/a',
    'commit_sha': 'abc123',
    'depth_level': 'shallow',
    'target_framework': 'python',
    'user_name': 'ada',
    'exit_code': 3,
    'error': None,
    'issue_number': None,
    'issue_title': None,
    'retry_of': None,
    'created_at': datetime(2025, 1, 1, 11, 59, 0, tzinfo=UTC),
    'started_at': datetime(2025, 1, 1, 11, 59, 30, tzinfo=UTC),
    'finished_at': datetime(2025, 1, 1, 11, 59, 42, tzinfo=UTC),
}


def facts(event: str = 'run.failed', **changes) -> EventFacts:  # noqa: ANN003
    values = dict(
        event_id='evt_1',
        type=event,
        created_at=AT,
        base_url='https://rb.example.com',
        project={'id': 'proj', 'name': 'Proj'},
        run=RUN,
    )
    values.update(changes)
    return EventFacts(**values)


def test_runboard_document_of_a_failed_run() -> None:
    assert runboard_document(facts()) == {
        'id': 'evt_1',
        'type': 'run.failed',
        'created_at': '2025-01-01T12:00:00Z',
        'project': {'id': 'proj', 'name': 'Proj', 'url': 'https://rb.example.com/projects/proj'},
        'run': {
            'id': 'run_1',
            'url': 'https://rb.example.com/runs/run_1',
            'status': 'failed',
            'kind': 'manual',
            'branch': 'feature/a',
            'commit_sha': 'abc123',
            'commit_title': None,  # not read from the repository (yet)
            'depth_level': 'shallow',
            'target_framework': 'python',
            'triggered_by': 'ada',
            'pusher': None,  # not a push run
            'pull_request': None,
            'exit_code': 3,
            'error': None,
            'issue_number': None,
            'issue_title': None,
            'retry_of': None,
            'attempt': 1,  # a first run
            'created_at': '2025-01-01T11:59:00Z',
            'started_at': '2025-01-01T11:59:30Z',
            'finished_at': '2025-01-01T11:59:42Z',
            'duration_seconds': 12.0,
            'annotations': [],
            'usage': None,  # no `::usage::` lines
        },
    }


def test_a_runs_annotations_travel_with_links_to_their_log_lines() -> None:
    annotation = {'seq': 9, 'level': 'error', 'message': 'boom', 'title': None, 'file': 'app.py', 'line': 3}
    run = {**RUN, 'annotations': [annotation, {**annotation, 'seq': 12, 'level': 'warning', 'file': None}]}
    document = runboard_document(facts(run=run))
    assert document['run']['annotations'][0] == {
        'level': 'error',
        'message': 'boom',
        'title': None,
        'file': 'app.py',
        'line': 3,
        'end_line': None,
        'col': None,
        'end_column': None,
        'url': 'https://rb.example.com/runs/run_1#L9',
    }
    assert document['run']['annotations'][1]['url'].endswith('#L12')
    assert '1 error, 1 warning' in slack_text(facts(run=run))
    assert from_stored(stored(facts(run=run)), 'https://rb.example.com').run == stored(facts(run=run))['run']


@pytest.mark.parametrize(
    ('event', 'extra', 'key', 'value'),
    [
        ('issue.parked', {'issue': {'number': 7, 'title': 'Fix it', 'cause': 'failed'}}, 'issue', {'number': 7}),
        ('project.auto_paused', {'afk': {'consecutive_failures': 3, 'threshold': 3}}, 'afk', {'threshold': 3}),
        ('ping', {'run': None, 'rule': {'id': 'ntf_1', 'name': 'ops'}}, 'rule', {'name': 'ops'}),
    ],
)
def test_runboard_document_carries_what_each_event_is_about(event: str, extra: dict, key: str, value: dict) -> None:
    document = runboard_document(facts(event, **extra))
    assert document['type'] == event
    assert value.items() <= document[key].items()
    assert ('run' in document) is (event != 'ping')


@pytest.mark.parametrize(
    ('event', 'extra', 'words'),
    [
        (
            'run.failed',
            {},
            [
                ':x:',
                'run <https://rb.example.com/runs/run_1|run_1> failed on `feature/a`',
                'exit code 3',
                'after 12 s',
                'by ada',
            ],
        ),
        ('run.timed_out', {}, [':hourglass:', 'timed out']),
        ('run.crashed', {}, [':boom:', 'crashed']),
        ('run.succeeded', {}, [':white_check_mark:', 'succeeded']),
        ('run.stopped', {}, ['was stopped']),
        (
            'project.auto_paused',
            {'afk': {'consecutive_failures': 3, 'threshold': 3}},
            ['paused itself after 3 failed runs', 'Reset'],
        ),
        (
            'issue.parked',
            {'issue': {'number': 7, 'title': 'Fix it', 'cause': 'x'}},
            ['issue #7 “Fix it” was parked', 'Requeue'],
        ),
        ('ping', {'run': None, 'rule': {'id': 'ntf_1', 'name': 'ops'}}, ['test notification', 'rule ops']),
    ],
)
def test_slack_text(event: str, extra: dict, words: list[str]) -> None:
    text = slack_text(facts(event, **extra))
    assert text.startswith(':') and '*<https://rb.example.com/projects/proj|Proj>*' in text
    for word in words:
        assert word in text


@pytest.mark.parametrize(
    ('event', 'status', 'exit_code', 'error', 'said'),
    [
        # a person's Stop: who stopped it, and the signal's exit code after it
        ('run.stopped', 'stopped', 143, 'stopped by bob', '(stopped by bob, exit code 143, after 12 s)'),
        # the AFK cost cap stopped it: the cap, not only a signal's exit code
        ('run.stopped', 'stopped', 143, 'stopped: the AFK cost cap', '(stopped: the AFK cost cap, exit code 143,'),
        # an AFK agent that exited 0 without a pull request failed: why
        ('run.failed', 'failed', 0, 'no pull request afk/7', '(no pull request afk/7, exit code 0,'),
        ('run.failed', 'failed', 3, None, '(exit code 3, after 12 s)'),  # nothing to explain: the exit code
        ('run.crashed', 'crashed', None, 'the worker went away', '(the worker went away, after 12 s)'),
    ],
)
def test_slack_text_says_why_a_run_ended_beside_its_exit_code(
    event: str, status: str, exit_code: int | None, error: str | None, said: str
) -> None:
    run = {**RUN, 'status': status, 'exit_code': exit_code, 'error': error}
    assert said in slack_text(facts(event, run=run))


PUSHED = {**RUN, 'kind': 'push', 'user_name': 'ops', 'pusher': 'bob'}
PULLED = {
    **PUSHED,
    'kind': 'pull_request',
    'pr_number': 12,
    'pr_title': 'Add <the> thing',
    'pr_url': 'https://github.example/team/app/pull/12',
}


@pytest.mark.parametrize(
    ('run', 'pusher', 'pull', 'said', 'not_said'),
    [
        # a push run's user is whoever set the push rules: the message names who pushed
        (PUSHED, 'bob', None, ' · pushed by bob', 'ops'),
        (
            PULLED,
            'bob',
            {'number': 12, 'title': 'Add <the> thing', 'url': 'https://github.example/team/app/pull/12'},
            ' · pull request <https://github.example/team/app/pull/12|#12 Add &lt;the&gt; thing> · pushed by bob',
            'ops',
        ),
        # a forge address that could end Slack's <url|text> early is no link
        (
            {**PULLED, 'pr_url': 'https://x.example/1|<!channel>'},
            'bob',
            {'number': 12, 'title': 'Add <the> thing', 'url': 'https://x.example/1|<!channel>'},
            ' · pull request #12 Add &lt;the&gt; thing · pushed by bob',
            'x.example',
        ),
        ({**PUSHED, 'pusher': None}, None, None, 'failed on `feature/a` (exit code 3, after 12 s)\n', 'by '),
        (RUN, None, None, ' · triggered by ada', 'pushed'),  # a person's run
    ],
)
def test_a_push_or_pull_request_run_says_who_pushed_and_links_the_pull_request(
    run: dict, pusher: str | None, pull: dict | None, said: str, not_said: str
) -> None:
    document = runboard_document(facts(run=run))['run']
    assert (document['pusher'], document['pull_request']) == (pusher, pull)
    assert document['triggered_by'] == run['user_name']  # as before: whose rules (or Run button) admitted it
    text = slack_text(facts(run=run)) + '\n'
    assert said in text and not_said not in text.split('(exit code')[1]


def test_a_retrys_attempt_is_in_the_document_and_the_slack_text() -> None:
    retried = facts('run.succeeded', run={**RUN, 'retry_of': 'run_0', 'attempt': 3})
    assert runboard_document(retried)['run']['attempt'] == 3 and runboard_document(facts())['run']['attempt'] == 1
    assert '(attempt 3, exit code' in slack_text(retried) and 'attempt' not in slack_text(facts())


def test_slack_text_escapes_user_text_so_it_cannot_make_links_or_mentions() -> None:
    text = slack_text(
        facts('issue.parked', project={'id': 'p', 'name': 'A<b>&c'}, issue={'number': 1, 'title': '<!channel> hi'})
    )
    assert 'A&lt;b&gt;&amp;c' in text and '&lt;!channel&gt; hi' in text
    assert '<!channel>' not in text
    # Mattermost and Discord's /slack endpoint read @-mentions and Markdown links in plain text: broken unseen
    markdown = slack_text(
        facts(
            'issue.parked', project={'id': 'p', 'name': '@channel'}, issue={'number': 1, 'title': '[x](http://e.vil)'}
        )
    )
    assert '@channel' not in markdown and '@\u200bchannel' in markdown
    assert '](' not in markdown and ']\u200b(http://e.vil)' in markdown


def test_body_is_compact_json_in_either_format() -> None:
    assert json.loads(body(facts(), 'slack')) == {'text': slack_text(facts())}
    assert json.loads(body(facts(), 'runboard')) == runboard_document(facts())
    assert ', ' not in body(facts(), 'runboard')[:40]  # compact separators


def test_stored_facts_give_the_same_body_on_any_server_with_that_address() -> None:
    kept = json.loads(json.dumps(stored(facts())))  # as the database keeps it (JSON)
    again = from_stored(kept, 'https://rb.example.com/')
    assert body(again, 'runboard') == body(facts(), 'runboard')
    assert body(again, 'slack') == body(facts(), 'slack')


def test_a_runs_usage_and_the_cost_cap_event() -> None:
    usage = {'input_tokens': 2400, 'output_tokens': 600, 'cost_usd': 0.84, 'model': 'm', 'reports': 2}
    assert runboard_document(facts(run={**RUN, 'usage': usage}))['run']['usage'] == usage
    capped = facts(
        'project.cost_capped',
        run=None,
        afk={'cap_usd': 1.0, 'spent_usd': 1.2, 'day': '2025-01-01', 'resumes_at': '2025-01-02T00:00:00Z'},
    )
    document = runboard_document(capped)
    assert 'run' not in document and document['afk']['cap_usd'] == 1.0
    assert slack_text(capped) == (
        ':money_with_wings: *<https://rb.example.com/projects/proj|Proj>*: the AFK loop stopped launching: '
        "today's AFK cost $1.20 reached the cap of $1.00. It resumes at 00:00 UTC, or on Reset on the project page."
    )


def test_a_run_is_named_by_its_commit_once_its_title_is_known() -> None:
    run = {**RUN, 'commit_sha': 'abc1234def', 'commit_title': 'Fix <the> parser'}
    assert runboard_document(facts(run=run))['run']['commit_title'] == 'Fix <the> parser'
    text = slack_text(facts(run=run))
    assert 'failed on `feature/a` at `abc1234` “Fix &lt;the&gt; parser” (exit code 3' in text  # escaped for Slack
    assert 'abc123' not in slack_text(facts())  # no title known: the sha alone is no news in a chat line
