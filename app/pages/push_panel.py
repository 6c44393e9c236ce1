"""The project Settings page's "Runs on push" panel: the project's push rules (branches, paths, the run's depth and
framework, pull requests, cancel-in-progress), the forge webhook's address and its secret (made or replaced here,
shown once). Every rule is the server's: a refused save shows the 422's message. docs/triggers.md."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from app.client import ApiError
from app.pages.attributes import attrs
from app.pages.widgets import correlation_chip
from app.state import connection
from app.state.push_rules import hook_url, how_pushes_are_seen, push_body, push_draft, rules_summary


def push_panel(
    project: dict[str, Any], *, readonly: bool, saved: Callable[[dict[str, Any]], None] | None = None
) -> None:
    """`saved`: told the project as the server answers each save of the push rules made here (the page's form then
    knows the edit version its own page moved)."""
    project_id = project['id']
    state: dict[str, Any] = {'project': project}
    draft = push_draft(project)
    with ui.column().classes('w-full gap-2 mt-4').props('data-testid=push-panel'):
        ui.label('Runs on push').classes('text-lg font-medium').props('role=heading aria-level=2')
        summary = ui.label(rules_summary(project)).classes('text-sm').props('data-testid=push-summary')
        ui.label(
            f'{how_pushes_are_seen(project["repository"])} '
            'One pattern a line: release/* (one level), release/** (any depth), !wip/* excludes.'
        ).classes('text-xs opacity-80')
        result = ui.column().classes('w-full gap-1').props('aria-live=polite data-testid=push-result')

        def failed(exc: ApiError, doing: str) -> None:
            result.clear()
            with result, ui.element('div').classes('w-full rb-banner rb-banner-red').props('role=alert'):
                ui.label(f'Could not {doing}: {exc.detail}').props('data-testid=push-error')
                correlation_chip(exc.correlation_id, f'HTTP {exc.status} {exc.error}')

        def said(text: str) -> None:
            result.clear()
            with result:
                ui.label(text).classes('text-sm text-positive').props('data-testid=push-saved')

        enabled = ui.switch('Run on push', value=draft.enabled).props('data-testid=push-enabled')
        with ui.row().classes('w-full items-start gap-4'):
            branches = ui.textarea('Branches', value=draft.branches, placeholder='main\nrelease/*\n!wip/*')
            branches.classes('w-72').props('data-testid=push-branches spellcheck=false autogrow')
            paths = ui.textarea('Paths (optional)', value=draft.paths, placeholder='src/**')
            paths.classes('w-72').props('data-testid=push-paths spellcheck=false autogrow')
        matrix = (project.get('on_push') or {}).get('matrix')
        with ui.row().classes('items-center gap-4'):
            if matrix:
                axes = ' × '.join(', '.join(values) for values in matrix.values())
                ui.label(f'Runs a matrix: {axes} (set by the API or the CLI)').classes('text-sm')
                depth = framework = None
            else:
                depth = ui.select(project.get('depth_levels') or [], label='Depth', value=draft.depth_level)
                depth.classes('w-40').props('data-testid=push-depth')
                framework = ui.select(
                    project.get('target_frameworks') or [], label='Framework', value=draft.target_framework
                )
                framework.classes('w-40').props('data-testid=push-framework')
        with ui.row().classes('items-center gap-4'):
            pulls = ui.checkbox('Also pull requests (opened, new commits, reopened)', value=draft.pull_requests)
            pulls.props('data-testid=push-pull-requests')
            cancel = ui.checkbox('A newer push cancels queued runs of the branch', value=draft.cancel_in_progress)
            cancel.props('data-testid=push-cancel')
            cancel_running = ui.checkbox('… and stops running ones', value=draft.cancel_running)
            cancel_running.props('data-testid=push-cancel-running')
        for box in (enabled, branches, paths, depth, framework, pulls, cancel, cancel_running):
            if box is not None and readonly:
                box.disable()

        async def save() -> None:
            draft.enabled, draft.branches, draft.paths = bool(enabled.value), branches.value or '', paths.value or ''
            draft.depth_level = depth.value if depth is not None else None
            draft.target_framework = framework.value if framework is not None else None
            draft.pull_requests, draft.cancel_in_progress = bool(pulls.value), bool(cancel.value)
            draft.cancel_running = bool(cancel_running.value)
            body, problems = push_body(draft, state['project'])
            branches.props(remove='error error-message')
            if problems:
                attrs(branches.props('error'), {'error-message': problems['branches']})
                return
            try:
                answer = await connection.client().update_project(project_id, body)
            except ApiError as exc:
                failed(exc, 'save the push rules')
                return
            state['project'] = answer
            summary.text = rules_summary(answer)
            said('Saved the push rules.')
            if saved is not None:
                saved(answer)

        address = hook_url(connection.base_url(), project_id)
        with ui.column().classes('w-full gap-1 mt-2').props('data-testid=hook-box'):
            ui.label('Forge webhook').classes('font-medium').props('role=heading aria-level=3')
            ui.label(
                'On GitHub, Gitea/Forgejo or GitLab add a webhook for push (and pull request) events sending JSON to '
                'this address, with the secret below (GitLab: as its secret token). Add issue events too when the '
                "AFK loop works through the forge's issues: a newly ready issue is then taken up at once."
            ).classes('text-xs opacity-80')
            ui.label(address).classes('font-mono text-sm').props('data-testid=hook-url')
            secret_box = ui.column().classes('w-full gap-1').props('aria-live=polite data-testid=hook-secret-box')
            with secret_box:
                ui.label(
                    'A secret is set; it is not shown again.' if project.get('has_hook_secret') else 'No secret yet.'
                ).classes('text-sm').props('data-testid=hook-secret-state')

        async def new_secret() -> None:
            try:
                made = (await connection.client().request('POST', f'/projects/{project_id}/hook-secret')).data
            except ApiError as exc:
                failed(exc, 'make a hook secret')
                return
            secret_box.clear()
            with secret_box, ui.element('div').classes('w-full rb-banner rb-banner-amber').props('role=status'):
                ui.label('Copy it now: it is shown this once. The previous secret no longer works.').classes('text-sm')
                ui.label(made['secret']).classes('font-mono text-sm select-all').props('data-testid=hook-secret')

        if not readonly:
            with ui.row().classes('items-center gap-2'):
                ui.button('Save push rules', icon='save', on_click=save).props('data-testid=push-save').classes(
                    'rb-tap'
                )
                label = 'Replace the hook secret…' if project.get('has_hook_secret') else 'Make a hook secret'
                ui.button(label, icon='key', on_click=new_secret).props('outline data-testid=hook-secret-new').classes(
                    'rb-tap'
                )
