"""The AFK part of a run page (docs/afk.md, "Reviewing an AFK run"): beside the log, the issue the agent worked on
(its Markdown rendered safely, labels, link), the pull request once it exists (number, title, state, link, its
checks) and the changes (each file with +/−, opened to its diff). Read from GET /api/afk/runs/{id}/review through
state/afk_review.py; drawn again when the run changes (its PR appears, it ends)."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from app.pages.attributes import attrs
from app.state import connection
from app.state.afk_review import (
    PR_COLORS,
    check_look,
    checks_summary,
    diff_summary,
    load,
    patch_html,
    usage_text,
)
from app.state.markdown import markdown_html
from app.state.text import shown

REVIEW_CSS = """
.rb-review-card { min-width: 18rem; flex: 1 1 22rem; }
.rb-issue-body { max-height: 16rem; overflow: auto; }
.rb-issue-body pre { white-space: pre-wrap; }
.rb-diff span { display: block; min-height: 1em; }
.rb-diff { font-family: ui-monospace, monospace; font-size: .75rem; white-space: pre; overflow-x: auto; margin: 0; }
.rb-diff .add { color: #1b5e20; background: #e8f5e9; }
.rb-diff .del { color: #b71c1c; background: #ffebee; }
.body--dark .rb-diff .add { color: #a5d6a7; background: rgba(76, 175, 80, .15); }
.body--dark .rb-diff .del { color: #ef9a9a; background: rgba(229, 57, 53, .15); }
"""


class AfkReviewPanel:
    """Drawn for AFK runs only (`for_run` answers None for the others)."""

    def __init__(self, run: dict) -> None:
        ui.add_css(REVIEW_CSS)
        self.run_id = run['id']
        self.seen: tuple | None = None
        self.box = (
            ui.row()
            .classes('w-full gap-3 items-stretch flex-wrap')
            .props('data-testid=afk-review aria-label="Issue, pull request and changes"')
        )
        with self.box:
            ui.label('Reading the issue and its pull request…').classes('text-sm opacity-70')

    @classmethod
    def for_run(cls, run: dict) -> AfkReviewPanel | None:
        return cls(run) if run.get('kind') == 'auto' and run.get('issue_number') else None

    async def load(self, run: dict) -> None:
        """Read and draw the review when the run changed in a way it shows (status, its PR); not on every line."""
        key = (run.get('status'), run.get('pr_number'), run.get('finished_at'))
        if key == self.seen or self.box.is_deleted:
            return
        self.seen = key
        review, problem = await load(connection.client(), self.run_id)
        if self.box.is_deleted:
            return
        self.box.clear()
        with self.box:
            if review is None:
                ui.label(f'The issue and its pull request could not be read: {problem}').classes(
                    'text-sm text-negative'
                )
                return
            ended = run.get('finished_at') is not None  # no "yet" once nothing more will come
            draw_issue(review.get('issue'))
            draw_pull_request(review.get('pull_request'), ended=ended)
            draw_diff(review.get('diff'), ended=ended)
            for line in review.get('problems') or []:
                ui.label(shown(line)).classes('w-full text-xs rb-text-caution').props('data-testid=review-problem')


def draw_issue(issue: dict[str, Any] | None) -> None:
    with ui.card().classes('rb-review-card gap-1').props('data-testid=review-issue'):
        if issue is None:
            ui.label('Issue').classes('font-bold')
            ui.label('not found').classes('text-sm opacity-70')
            return
        with ui.row().classes('items-center gap-2 w-full no-wrap'):
            ui.icon('assignment', size='sm').classes('opacity-70 shrink-0')
            title = f'#{issue["number"]} {shown(issue.get("title") or "")}'
            if issue.get('url', '') and str(issue['url']).startswith(('http://', 'https://')):
                ui.link(title, issue['url'], new_tab=True).classes('font-bold rb-tap-link').props(
                    'data-testid=issue-link dir=auto rel=noopener'
                )
            else:
                ui.label(title).classes('font-bold').props('dir=auto')
            ui.badge(issue.get('state') or 'open', color='grey-8').props('data-field=issue-state')
        if issue.get('labels'):
            with ui.row().classes('gap-1'):
                for label in issue['labels']:
                    ui.badge(shown(label), color='blue-grey-7').props('outline data-field=issue-label')
        html = markdown_html(issue.get('body') or '')
        if html:
            # markdown2 escaped the author's HTML already; DOMPurify (sanitize=True) is the second fence
            ui.html(html, sanitize=True).classes('rb-issue-body text-sm w-full').props('data-testid=issue-body')
        else:
            ui.label('No description.').classes('text-sm opacity-70')


def draw_pull_request(pull: dict[str, Any] | None, *, ended: bool) -> None:
    with ui.card().classes('rb-review-card gap-1').props('data-testid=review-pull-request'):
        if pull is None:
            with ui.row().classes('items-center gap-2'):
                ui.icon('merge_type', size='sm').classes('opacity-70 shrink-0')
                ui.label('Pull request').classes('font-bold')
            ui.label('none' if ended else 'none yet').classes('text-sm opacity-70').props('data-field=pr-none')
            return
        with ui.row().classes('items-center gap-2 w-full no-wrap'):
            ui.icon('merge_type', size='sm').classes('opacity-70 shrink-0')
            text = f'#{pull["number"]} {shown(pull.get("title") or "")}'
            url = pull.get('url') or ''
            if url.startswith(('http://', 'https://')):
                ui.link(text, url, new_tab=True).classes('font-bold rb-tap-link').props(
                    'data-testid=pr-link dir=auto rel=noopener'
                )
            else:
                ui.label(text).classes('font-bold').props('dir=auto')
            ui.badge(pull['state'], color=PR_COLORS.get(pull['state'], 'grey-8')).props('data-field=pr-state')
        checks = pull.get('checks') or []
        ui.label(checks_summary(checks)).classes('text-sm opacity-80').props('data-field=checks-summary')
        for check in checks:
            icon, color = check_look(check['state'])
            with attrs(ui.row().classes('items-center gap-1 text-sm'), {'data-check': check['state']}):
                attrs(ui.icon(icon, color=color), {'aria-label': check['state']})
                target = check.get('target_url') or ''
                if target.startswith(('http://', 'https://')):
                    ui.link(shown(check['context']), target, new_tab=True).classes('rb-tap-link').props('rel=noopener')
                else:
                    ui.label(shown(check['context']))
                if check.get('description'):
                    ui.label(shown(check['description'])).classes('opacity-70')


def draw_diff(diff: dict[str, Any] | None, *, ended: bool) -> None:
    with ui.card().classes('rb-review-card gap-1').props('data-testid=review-diff'):
        with ui.row().classes('items-center gap-2'):
            ui.icon('difference', size='sm').classes('opacity-70 shrink-0')
            ui.label('Changes').classes('font-bold')
        if diff is None:
            none = 'no branch with changes' if ended else 'no branch with changes yet'
            ui.label(none).classes('text-sm opacity-70').props('data-field=diff-none')
            return
        ui.label(diff_summary(diff)).classes('text-sm opacity-80').props('data-field=diff-summary')
        for file in diff.get('files') or []:
            # the header's name starts with what it shows (Quasar's default is a bare "Expand"/"Collapse")
            name = f'{file["path"]} +{file["additions"]} −{file["deletions"]}'
            expansion = ui.expansion().classes('w-full text-sm')
            with attrs(expansion.props('dense'), {'data-file': file['path'], 'toggle-aria-label': name}) as item:
                with item.add_slot('header'), ui.row().classes('items-center gap-2 w-full no-wrap'):
                    ui.label(shown(file['path'])).classes('font-mono text-xs ellipsis').props('dir=ltr')
                    ui.space()
                    ui.label(f'+{file["additions"]}').classes('text-xs text-positive font-mono')
                    ui.label(f'−{file["deletions"]}').classes('text-xs text-negative font-mono')
                patch = file.get('patch')
                if patch:
                    draw_patch(patch)
                else:
                    ui.label('binary, or too large to show').classes('text-xs opacity-70')


def draw_patch(patch: str) -> None:
    """A file's diff: one element, each line a span coloured by its sign (its text escaped, never HTML)."""
    ui.html(patch_html(patch), sanitize=True).classes('w-full')


def afk_facts(run: dict[str, Any], *, size: str = 'text-xs') -> None:
    """In a runs list row: an AFK run's issue (`issue #7`), and any run's reported cost (`$0.42`)."""
    if run.get('kind') == 'auto' and run.get('issue_number'):
        ui.label(f'issue #{run["issue_number"]}').classes(size).props('data-field=issue dir=auto').tooltip(
            shown(run.get('issue_title') or '')
        )
    spent = usage_text(run.get('usage'))
    if spent:
        ui.label(spent.split(' · ', 1)[0]).classes(f'{size} font-mono').props('data-field=usage').tooltip(spent)
