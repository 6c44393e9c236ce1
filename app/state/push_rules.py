"""The project Settings' "Runs on push" panel, pure (no NiceGUI): the project's `on_push` as the boxes show it,
and the boxes back to the PATCH body. Patterns are typed one a line or comma-separated; a `!` line excludes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_SPLIT = re.compile(r'[\n,]+')


@dataclass
class PushDraft:
    enabled: bool = False
    branches: str = 'main'
    paths: str = ''
    depth_level: str | None = None
    target_framework: str | None = None
    pull_requests: bool = False
    cancel_in_progress: bool = True
    cancel_running: bool = False


def patterns(text: str) -> list[str]:
    """'main, release/*\\n!wip/*' -> ['main', 'release/*', '!wip/*'] (blank entries dropped, order kept)."""
    return [part.strip() for part in _SPLIT.split(text or '') if part.strip()]


def push_draft(project: dict[str, Any]) -> PushDraft:
    rules = project.get('on_push') or None
    depths, frameworks = project.get('depth_levels') or [], project.get('target_frameworks') or []
    if not rules:
        return PushDraft(
            depth_level=depths[0] if depths else None, target_framework=frameworks[0] if frameworks else None
        )
    return PushDraft(
        enabled=bool(rules.get('enabled', True)),
        branches='\n'.join(rules.get('branches') or []),
        paths='\n'.join(rules.get('paths') or []),
        depth_level=rules.get('depth_level') or (depths[0] if depths else None),
        target_framework=rules.get('target_framework') or (frameworks[0] if frameworks else None),
        pull_requests=bool(rules.get('pull_requests')),
        cancel_in_progress=bool(rules.get('cancel_in_progress', True)),
        cancel_running=bool(rules.get('cancel_running')),
    )


def push_body(draft: PushDraft, project: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(the PATCH body, problems by field). Off with no rules stored: `on_push: null`. A matrix stored through the
    API or the CLI is kept (the panel edits one run's depth and framework only when there is no matrix)."""
    branches = patterns(draft.branches)
    if not draft.enabled and not branches:
        return {'on_push': None}, {}
    problems = {}
    if not any(not b.startswith('!') for b in branches):
        problems['branches'] = 'Name at least one branch or pattern (e.g. main, release/*).'
    rules: dict[str, Any] = {
        'enabled': draft.enabled,
        'branches': branches,
        'paths': patterns(draft.paths),
        'pull_requests': draft.pull_requests,
        'cancel_in_progress': draft.cancel_in_progress,
        'cancel_running': draft.cancel_running and draft.cancel_in_progress,
    }
    stored = project.get('on_push') or {}
    if stored.get('matrix'):
        rules['matrix'] = stored['matrix']
    else:
        rules['depth_level'] = draft.depth_level
        rules['target_framework'] = draft.target_framework
    return {'on_push': rules}, problems


def hook_url(public_base: str, project_id: str) -> str:
    return f'{public_base.rstrip("/")}/api/hooks/{project_id}'


def how_pushes_are_seen(repository: str) -> str:
    """The push panel's first words: a project on a path of the server (an absolute path) is watched in place, a
    remote is told by its forge's webhook or seen at the next mirror fetch."""
    if repository.startswith('/'):
        return (
            'A commit to a selected branch of this repository runs once, within seconds: the server watches its '
            'branches.'
        )
    return (
        'A push to a selected branch runs the pushed commit once, seen by the forge webhook below or by the next '
        'mirror fetch.'
    )


def rules_summary(project: dict[str, Any]) -> str:
    """One line for the panel's heading: what the rules do now."""
    rules = project.get('on_push') or None
    if not rules or not rules.get('enabled', True):
        return 'Off: pushes start no run.'
    what = ', '.join(rules.get('branches') or [])
    extra = ' and pull requests' if rules.get('pull_requests') else ''
    return f'On: pushes to {what}{extra} start a run.'


def pull_request_link(run: dict[str, Any]) -> tuple[str, str | None] | None:
    """A run's pull request as (text, href): `#12 Add the thing`, and its forge address when it is an http(s) one
    (a payload's URL is not trusted to be a link otherwise); None for a run of no pull request."""
    number = run.get('pr_number')
    if not number:
        return None
    title = (run.get('pr_title') or '').strip()
    url = run.get('pr_url') or ''
    href = url if url.startswith(('https://', 'http://')) else None
    return (f'#{number} {title}'.strip(), href)


def push_text(run: dict[str, Any]) -> str | None:
    """`pushed by ann` for a push run, `pull request head · by dee` for a pull-request run (the commit is said by
    commit_line, as for every run); None for other kinds."""
    if run.get('kind') not in ('push', 'pull_request'):
        return None
    who = run.get('pusher')
    if run.get('kind') == 'pull_request':
        return 'pull request head' + (f' · by {who}' if who else '')
    return 'pushed' + (f' by {who}' if who else '')


@dataclass(frozen=True)
class CommitLine:
    sha: str  # the short sha, as git shows it
    title: str | None  # the message's first line, once the server read it from the repository
    author: str | None
    url: str | None = None  # its page on the forge (an http(s) address the server made), where one is known

    @property
    def hint(self) -> str | None:
        """The full title and its author, for a tooltip (the row cuts a long title)."""
        if not self.title:
            return None
        return f'{self.title} ({self.author})' if self.author else self.title


def commit_line(run: dict[str, Any]) -> CommitLine | None:
    """What a run ran, as the runs list and the run page name it: `abc1234 Fix the parser`; None while its commit is
    not known (admitted without one, until it starts)."""
    sha = (run.get('commit_sha') or '').strip()
    if not sha:
        return None
    title = (run.get('commit_title') or '').strip() or None
    url = run.get('commit_url') or ''
    return CommitLine(
        sha[:7],
        title,
        (run.get('commit_author') or '').strip() or None if title else None,
        url if url.startswith(('https://', 'http://')) else None,
    )


def status_log_text(rows: list[dict[str, Any]]) -> str | None:
    """The run's commit statuses as one line, oldest first, under the check's name on the forge (what a branch
    protection rule asks for): `forge check runboard/web (push): pending ✓ · success ✓` (✓ delivered, … being
    tried, ✗ given up with its last answer); None when nothing was posted (no forge token, not a push run)."""
    if not rows:
        return None
    marks = {
        'delivered': '✓',
        'pending': '…',
        'failed': '… retrying',
        'gave_up': '✗ gave up',
        'superseded': '(skipped)',
    }
    parts = []
    ordered = sorted(rows, key=lambda r: r['id'])
    for row in ordered:
        mark = marks.get(row['status'], row['status'])
        why = f' ({row["last_error"]})' if row['status'] in ('failed', 'gave_up') and row.get('last_error') else ''
        parts.append(f'{row["state"]} {mark}{why}')
    context = ordered[0].get('context')
    return (f'forge check {context}: ' if context else 'forge status: ') + ' · '.join(parts)


def status_log_settled(rows: list[dict[str, Any]], *, run_ended: bool) -> bool:
    """Whether the run page's commit-status line may stop reading the log again: nothing posted (no forge), or every
    state recorded is delivered, given up or skipped and, once the run has ended, its end state is among them."""
    if not rows:
        return True
    if any(row['status'] in ('pending', 'failed') for row in rows):
        return False
    return not run_ended or any(row['state'] != 'pending' for row in rows)
