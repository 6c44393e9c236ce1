"""Pure: the body a delivery sends, in each format. `runboard`: a JSON document (docs/notifications.md);
`slack`: `{"text": ...}`, which Slack incoming webhooks (and Mattermost, Rocket.Chat, Discord's /slack
endpoint) show as a message, with links to the run and the project."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.models.vocabulary import as_utc


@dataclass(frozen=True)
class EventFacts:
    """What happened, as the outbox read it in the transaction that made it happen."""

    event_id: str
    type: str
    created_at: datetime
    base_url: str  # where people open Runboard (Settings.effective_public_url)
    project: dict[str, Any]  # id, name
    run: dict[str, Any] | None = None  # the run's columns (see outbox.RUN_FACTS_SQL)
    issue: dict[str, Any] | None = None  # issue.parked: number, title, cause
    afk: dict[str, Any] | None = None  # project.auto_paused: consecutive_failures, threshold; cost_capped: cap, spent
    rule: dict[str, Any] | None = field(default=None)  # ping: the rule tested (id, name)


def stored(facts: EventFacts) -> dict[str, Any]:
    """The facts as a delivery keeps them (JSON; times as ISO 8601), without the server's address."""
    values = {
        'event_id': facts.event_id,
        'type': facts.type,
        'created_at': _time(facts.created_at),
        'project': facts.project,
        'run': facts.run and {key: _time(v) if isinstance(v, datetime) else v for key, v in facts.run.items()},
        'issue': facts.issue,
        'afk': facts.afk,
        'rule': facts.rule,
    }
    return {key: value for key, value in values.items() if value is not None}


def from_stored(values: dict[str, Any], base_url: str) -> EventFacts:
    return EventFacts(
        event_id=values['event_id'],
        type=values['type'],
        created_at=as_utc(values['created_at']),
        base_url=base_url.rstrip('/'),
        project=values['project'],
        run=values.get('run'),
        issue=values.get('issue'),
        afk=values.get('afk'),
        rule=values.get('rule'),
    )


def _time(value: Any) -> str | None:
    moment = as_utc(value)
    return moment.isoformat().replace('+00:00', 'Z') if moment is not None else None


def _duration(run: dict[str, Any]) -> float | None:
    started, finished = as_utc(run.get('started_at')), as_utc(run.get('finished_at'))
    if started is None or finished is None:
        return None
    return round(max(0.0, (finished - started).total_seconds()), 3)


def run_url(facts: EventFacts) -> str | None:
    return f'{facts.base_url}/runs/{facts.run["id"]}' if facts.run else None


def project_url(facts: EventFacts) -> str:
    return f'{facts.base_url}/projects/{facts.project["id"]}'


def pull_request(run: dict[str, Any]) -> dict[str, Any] | None:
    """A pull-request run's pull request as the forge named it; None for other runs."""
    if not run.get('pr_number'):
        return None
    return {'number': run['pr_number'], 'title': run.get('pr_title'), 'url': run.get('pr_url')}


def runboard_document(facts: EventFacts) -> dict[str, Any]:
    document: dict[str, Any] = {
        'id': facts.event_id,
        'type': facts.type,
        'created_at': _time(facts.created_at),
        'project': {**facts.project, 'url': project_url(facts)},
    }
    if facts.run is not None:
        run = facts.run
        document['run'] = {
            'id': run['id'],
            'url': run_url(facts),
            'status': run['status'],
            'kind': run['kind'],
            'branch': run['branch_name'],
            'commit_sha': run.get('commit_sha'),
            'commit_title': run.get('commit_title'),  # its message's first line (None until read: docs/runs.md)
            'depth_level': run['depth_level'],
            'target_framework': run['target_framework'],
            'triggered_by': run.get('user_name'),  # None: the AFK loop; a push run: whose push rules admitted it
            'pusher': run.get('pusher'),  # a push or pull-request run: who pushed, when the forge says
            'pull_request': pull_request(run),
            'exit_code': run.get('exit_code'),
            'error': run.get('error'),
            'issue_number': run.get('issue_number'),
            'issue_title': run.get('issue_title'),
            'retry_of': run.get('retry_of'),
            'attempt': run.get('attempt', 1),  # 2 for its first retry (a person's or automatic), and so on
            'created_at': _time(run.get('created_at')),
            'started_at': _time(run.get('started_at')),
            'finished_at': _time(run.get('finished_at')),
            'duration_seconds': _duration(run),
            'annotations': [_annotation(facts, a) for a in run.get('annotations') or []],
            'usage': run.get('usage'),  # its `::usage::` lines summed (docs/afk.md, "Cost"); None: none
        }
        if run.get('tests') is not None:  # run.failed: its JUnit totals and failing tests (docs/artifacts.md)
            document['run']['tests'] = run['tests']
        if run.get('log_tail') is not None:  # run.failed: its last output lines
            document['run']['log_tail'] = run['log_tail']
    if facts.issue is not None:
        document['issue'] = dict(facts.issue)
    if facts.afk is not None:
        document['afk'] = dict(facts.afk)
    if facts.rule is not None:
        document['rule'] = dict(facts.rule)
    return document


def _annotation(facts: EventFacts, annotation: dict[str, Any]) -> dict[str, Any]:
    """One `::error|warning|notice::` line of the run, with the address of its log line."""
    fields = ('level', 'message', 'title', 'file', 'line', 'end_line', 'col', 'end_column')
    return {**{key: annotation.get(key) for key in fields}, 'url': f'{run_url(facts)}#L{annotation["seq"]}'}


def annotation_counts(run: dict[str, Any]) -> str:
    """`1 error, 2 warnings` (levels in GitHub's order; '' without annotations)."""
    levels = [a.get('level') for a in run.get('annotations') or []]
    parts = []
    for level in ('error', 'warning', 'notice'):
        count = levels.count(level)
        if count:
            parts.append(f'{count} {level}{"" if count == 1 else "s"}')
    return ', '.join(parts)


ZERO_WIDTH_SPACE = '\u200b'


def _escape(text: Any) -> str:
    """Slack's mrkdwn: &, < and > are the only characters to escape (so user text cannot forge a link). The
    receivers that take Slack's format read more: Mattermost and Discord's `/slack` endpoint make `@channel`,
    `@everyone` or `@name` a mention and `[text](url)` a link, so a zero-width space breaks both, unseen."""
    escaped = str(text).replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
    return escaped.replace('@', '@' + ZERO_WIDTH_SPACE).replace('](', ']' + ZERO_WIDTH_SPACE + '(')


def _link(url: str | None, text: str) -> str:
    return f'<{url}|{_escape(text)}>' if url else _escape(text)


_RUN_WORDS = {
    'run.failed': (':x:', 'failed'),
    'run.timed_out': (':hourglass:', 'timed out'),
    'run.crashed': (':boom:', 'crashed'),
    'run.succeeded': (':white_check_mark:', 'succeeded'),
    'run.stopped': (':octagonal_sign:', 'was stopped'),
    'run.awaiting_approval': (':raised_hand:', "waits for an operator's approval"),
}


def _run_detail(run: dict[str, Any]) -> str:
    parts = []
    if (run.get('attempt') or 1) > 1:
        parts.append(f'attempt {run["attempt"]}')
    if run.get('error'):  # why, in words: who stopped it (or the cost cap, a closed issue), an agent's failure
        parts.append(str(run['error'])[:200])
    if run.get('exit_code') is not None:
        parts.append(f'exit code {run["exit_code"]}')
    seconds = _duration(run)
    if seconds is not None:
        parts.append(f'after {seconds:.0f} s' if seconds >= 1 else f'after {seconds:.1f} s')
    if annotation_counts(run):
        parts.append(annotation_counts(run))
    return f' ({_escape(", ".join(parts))})' if parts else ''


def _pull_request_text(run: dict[str, Any]) -> str:
    """` · pull request <url|#12 Add the thing>`."""
    pull = pull_request(run)
    if pull is None:
        return ''
    words = f'#{pull["number"]} {pull["title"] or ""}'.strip()
    url = str(pull['url'] or '')
    # a link only to an http(s) address that cannot end Slack's <url|text> early
    linkable = url.startswith(('https://', 'http://')) and not any(c in url for c in '|<> ')
    return f' · pull request {_link(url if linkable else None, words)}'


def _commit_text(run: dict[str, Any]) -> str:
    """` at abc1234 “Fix the parser”` once its title is known; '' before."""
    if not run.get('commit_sha') or not run.get('commit_title'):
        return ''
    return f' at `{run["commit_sha"][:7]}` “{_escape(run["commit_title"])}”'


def _who_text(run: dict[str, Any]) -> str:
    """Who started it: the person who pushed for a push or pull-request run (its user is only whose push rules
    admitted it), else the person who triggered it; '' for the AFK loop."""
    if run.get('kind') in ('push', 'pull_request'):
        return f' · pushed by {_escape(run["pusher"])}' if run.get('pusher') else ''
    return f' · triggered by {_escape(run["user_name"])}' if run.get('user_name') else ''


SLACK_TESTS = 5
# a failing test's mark against earlier runs (docs/artifacts.md), in the words the Tests tab uses
SLACK_MARKS = {
    'new': 'new',
    'still_failing': 'still failing',
    'flaky': 'flaky',
    'failing_on_base': 'failing on the base branch too',
}
SLACK_TAIL_LINES = 10


def _failed_tests_text(run: dict[str, Any]) -> str:
    """`2 of 5 tests failed:` and one line per failing test (its mark and its message's first line), the first five."""
    tests = run.get('tests')
    if not tests or not tests.get('failing'):
        return ''
    lines = [f'\n*{tests["failed"]} of {tests["total"]} tests failed:*']
    for test in tests['failing'][:SLACK_TESTS]:
        mark = f' _{SLACK_MARKS[test["mark"]]}_' if test.get('mark') in SLACK_MARKS else ''
        message = f' — {_escape(test["message"])}' if test.get('message') else ''
        lines.append(f'• `{_escape(test["test_id"])}`{mark}{message}')
    if tests['failed'] > SLACK_TESTS:
        lines.append(f'… and {tests["failed"] - SLACK_TESTS} more')
    return '\n'.join(lines)


def _log_tail_text(run: dict[str, Any]) -> str:
    """The last log lines in a code block (``` cannot be escaped in mrkdwn: it is broken up)."""
    tail = (run.get('log_tail') or [])[-SLACK_TAIL_LINES:]
    if not tail:
        return ''
    body = '\n'.join(_escape(line).replace('```', "'''") for line in tail)
    return f'\n```{body}```'


def slack_text(facts: EventFacts) -> str:
    project = f'*{_link(project_url(facts), facts.project["name"])}*'
    run = facts.run or {}
    run_link = _link(run_url(facts), run.get('id', 'run'))
    if facts.type in _RUN_WORDS:
        icon, verb = _RUN_WORDS[facts.type]
        head = f'{icon} {project}: run {run_link} {verb} on `{_escape(run["branch_name"])}`'
        head += _commit_text(run) + _run_detail(run)
        head += _pull_request_text(run) + _who_text(run)
        return head + _failed_tests_text(run) + _log_tail_text(run)
    if facts.type == 'project.auto_paused':
        failures = (facts.afk or {}).get('consecutive_failures')
        return (
            f':double_vertical_bar: {project}: the AFK loop paused itself after {failures} failed runs in a row '
            f'(the last: {run_link}). Reset it on the project page to let it run again.'
        )
    if facts.type == 'project.cost_capped':
        afk = facts.afk or {}
        return (
            f":money_with_wings: {project}: the AFK loop stopped launching: today's AFK cost "
            f'${afk.get("spent_usd", 0):,.2f} reached the cap of ${afk.get("cap_usd", 0):,.2f}. '
            'It resumes at 00:00 UTC, or on Reset on the project page.'
        )
    if facts.type == 'issue.parked':
        issue = facts.issue or {}
        title = f' “{_escape(issue["title"])}”' if issue.get('title') else ''
        return (
            f':parking: {project}: issue #{issue.get("number")}{title} was parked after run {run_link} '
            f'{_escape(run.get("status", "ended"))}. Requeue or discard it on the project page.'
        )
    rule = (facts.rule or {}).get('name', '')
    return f':wave: {project}: a test notification from Runboard (rule {_escape(rule)}). It works.'


def body(facts: EventFacts, fmt: str) -> str:
    """The body to store and send: the exact text that is signed."""
    document = {'text': slack_text(facts)} if fmt == 'slack' else runboard_document(facts)
    return json.dumps(document, ensure_ascii=False, separators=(',', ':'))
