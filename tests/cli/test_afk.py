"""`runboard issues` and `runboard afk` against a running server (both backends)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.cli.when import since_value
from tests.helpers.cli import served
from tests.helpers.runs import shell_script, wait_for_output, wait_for_status


def test_issues_and_the_auto_loop_from_the_cli(settings_factory, repo_factory) -> None:
    with served(settings_factory, repo_factory) as (server, cli):
        added = cli(
            'issues',
            'add',
            '--project',
            'proj',
            '--title',
            'Add a logout button',
            '--body',
            'Top right.',
            '--label',
            'ready-for-agent',
            '--json',
        )
        assert added.code == 0, added.stderr
        issue = added.json()
        assert issue['title'] == 'Add a logout button' and issue['ready'] is True
        assert cli('issues', 'add', 'proj', '-t', 'Talk about it', '-l', 'needs-discussion').code == 0
        listed = cli('issues', 'list', 'proj', '--json').json()
        assert [(i['number'], i['ready']) for i in listed] == [(issue['number'], True), (issue['number'] + 1, False)]
        assert 'Talk about it' in cli('issues', 'list', '--project', 'proj').stdout

        status = cli('afk', 'status', 'proj', '--json').json()
        assert status['auto_enabled'] is False and status['ready_count'] == 1

        started = cli('afk', 'start', '--project', 'proj', '--follow', '--json')
        assert started.code == 0, started.stderr
        run = started.json()
        assert run['kind'] == 'auto' and run['issue_number'] == issue['number'] and run['status'] == 'succeeded'

        nothing = cli('afk', 'start', '--project', 'proj')
        assert nothing.code == 3 and 'no_ready_issue' in nothing.stderr and 'Correlation id: ' in nothing.stderr
        # done, so the loop passes it over; only a parked issue is discarded, a done one may be requeued
        number = str(issue['number'])
        not_parked = cli('issues', 'discard', 'proj', number)
        assert not_parked.code == 4 and f'issue #{number} is not parked' in not_parked.stderr
        requeued = cli('issues', 'requeue', 'proj', number, '--json')
        assert requeued.code == 0 and requeued.json()['state'] == 'requeued', requeued.stderr
        said = cli('issues', 'requeue', 'proj', number)
        assert said.code == 4 and 'is not parked, done or discarded' in said.stderr

        assert cli('afk', 'on', 'proj', '--json').json()['auto_enabled'] is True
        off = cli('afk', 'off', '--project', 'proj')
        assert off.code == 0 and 'off' in off.stdout
        assert cli('afk', 'status', '--project', 'proj', '--json').json()['auto_enabled'] is False
        reset = cli('afk', 'reset', 'proj', '--json')
        assert reset.code == 0 and reset.json()['consecutive_failures'] == 0 and reset.json()['paused'] is False

        unknown = cli('afk', 'status', '--project', 'nope')
        assert unknown.code == 4


def test_a_script_closes_relabels_and_reopens_issues_from_the_cli(settings_factory, repo_factory) -> None:
    """docs/afk.md says the backlog is edited, closed and reopened from the CLI too: closing an issue while its AFK
    run works on it stops that run (and says so), and a script can take the label off and put it back."""
    hang = {'main': shell_script('echo "working on #$RUNBOARD_ISSUE_NUMBER"\nsleep 60')}
    with served(settings_factory, repo_factory, branches=hang) as (server, cli):
        cli('issues', 'add', 'proj', '-t', 'Slow one', '-l', 'ready-for-agent')
        run = cli('afk', 'start', 'proj', '--json').json()
        wait_for_output(server.client(), run['id'], 'working on #1')

        closed = cli('issues', 'edit', 'proj', '1', '--close')
        assert closed.code == 0, closed.stderr
        assert f'#1 of proj: closed; its AFK run {run["id"]} is stopped' in closed.stdout
        assert 'issue #1 was closed by' in closed.stdout
        assert wait_for_status(server.client(), run['id'])['status'] == 'stopped'

        unlabelled = cli('issues', 'edit', 'proj', '1', '--reopen', '--no-labels', '--title', 'Slow, later', '--json')
        assert unlabelled.code == 0, unlabelled.stderr
        assert {k: unlabelled.json()[k] for k in ('state', 'labels', 'title', 'ready')} == {
            'state': 'open',
            'labels': [],
            'title': 'Slow, later',
            'ready': False,
        }
        relabelled = cli('issues', 'edit', 'proj', '1', '-l', 'ready-for-agent,bug', '--json').json()
        assert relabelled['labels'] == ['ready-for-agent', 'bug'] and relabelled['ready'] is True

        nothing = cli('issues', 'edit', 'proj', '1')
        assert nothing.code == 2 and 'say what to change' in nothing.stderr
        both = cli('issues', 'edit', 'proj', '1', '-l', 'x', '--no-labels')
        assert both.code == 2
        assert cli('issues', 'edit', 'proj', '99', '--close').code == 4


def test_the_loops_summary_from_the_cli(settings_factory, repo_factory) -> None:
    with served(settings_factory, repo_factory) as (server, cli):
        for title in ('Add a logout button', 'Document the CLI'):
            assert cli('issues', 'add', 'proj', '-t', title, '-l', 'ready-for-agent').code == 0
        run = cli('afk', 'start', 'proj', '--follow', '--json').json()
        assert run['status'] == 'succeeded'

        said = cli('afk', 'summary', 'proj', '--since', '1h')
        assert said.code == 0, said.stderr
        assert '1 AFK run: 1 succeeded' in said.stdout and run['id'] in said.stdout  # the id whole, to paste
        assert 'Ready, not tried yet (1): #2 Document the CLI' in said.stdout
        answer = cli('afk', 'summary', '--project', 'proj', '--json').json()  # the last 24 hours
        assert [(i['number'], i['outcome'], i['claim']) for i in answer['issues']] == [(1, 'succeeded', 'done')]

        refused = cli('afk', 'summary', 'proj', '--since', 'yesterday')
        assert refused.code == 2 and "since='yesterday'" in refused.stderr
        assert cli('afk', 'summary', 'nope').code == 4


@pytest.mark.parametrize(
    ('typed', 'sent'),
    [
        ('12h', '12h'),  # a duration as typed
        ('2026-05-11T22:00', '2026-05-11T22:00:00+02:00'),  # no offset: this terminal's zone
        ('2026-05-11T22:00Z', '2026-05-11T22:00:00+00:00'),
        ('yesterday', 'yesterday'),  # the server says what is wrong with it
    ],
)
def test_since_is_read_in_the_terminals_zone(typed: str, sent: str) -> None:
    now = datetime(2026, 5, 12, 8, 0, tzinfo=timezone(timedelta(hours=2)))
    assert since_value(typed, now) == sent
