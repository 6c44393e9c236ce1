"""The projects without JavaScript: a server-rendered HTML list at /plain with plain forms for every
per-project action of the ⋯ menu (Start AFK run; for operators Auto on/off and Reset) and for parked issues
(Requeue, Discard). Every page links here from a <noscript> line.

Forms post back here with a CSRF token (double submit: a SameSite=Strict cookie the page set, and
the same value in the form; plus an Origin/Referer check), the action goes to the API through the
browser's own client (app.client, the person's token), and the answer is a 303 back to /plain with a
one-line notice. With sign-in, a plain token form signs the browser in first.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from nicegui import app as web_app

from app.client import ApiError, RunboardClient
from app.core.origins import same_origin
from app.pages.signin import check_token, explain
from app.state import connection, session
from app.state.me import controls_afk, who_am_i

PATH = '/plain'
CSRF_COOKIE = 'rb_plain_csrf'
NOTICE_COOKIE = 'rb_plain_notice'
ACTIONS = ('start', 'auto-on', 'auto-off', 'reset', 'requeue', 'discard')

_STYLE = """body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1b1b1b}
h1{font-size:1.4rem}section{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
form{display:inline-block;margin:.25rem .5rem .25rem 0}button{min-height:44px;min-width:44px;padding:0 1rem;
font-size:1rem;cursor:pointer}button:focus-visible{outline:3px solid #1565c0;outline-offset:2px}
.notice{background:#e8f5e9;padding:.5rem 1rem}.error{background:#ffebee;color:#b71c1c;padding:.5rem 1rem}
.paused{color:#b71c1c;font-weight:600}.blocked{color:#8a3c00}bdi{unicode-bidi:isolate}
@media (prefers-color-scheme: dark){body{background:#121212;color:#eee}a{color:#90caf9}
.notice{background:#1b3b1f}.error{background:#3b1b1b;color:#ffcdd2}.paused{color:#ef9a9a}.blocked{color:#ffcc80}}"""


@dataclass
class Notice:
    text: str
    error: bool = False


def _form_html(action: str, project_id: str, label: str, csrf: str, number: int | None = None) -> str:
    target = f'{PATH}/{html.escape(project_id)}/{action}' + (f'/{number}' if number is not None else '')
    return (
        f'<form method="post" action="{target}"><input type="hidden" name="csrf_token" '
        f'value="{html.escape(csrf)}"><button type="submit">{html.escape(label)}</button></form>'
    )


def project_section(project: dict, parked: list[dict], csrf: str, *, operator: bool) -> str:
    """Pure: one project's state and its action forms (Auto on/off and Reset for operators only: the API refuses
    a builder's with 403)."""
    pid = project['id']
    auto = bool(project.get('auto_enabled'))
    failures = int(project.get('consecutive_failures') or 0)
    ready = project.get('ready_count')
    lines = [
        f'<section data-project="{html.escape(pid)}"><h2><bdi>{html.escape(project["name"])}</bdi></h2>',
        f'<p>Auto AFK runs: <strong>{"on" if auto else "off"}</strong> · '
        f'{ready if ready is not None else "?"} ready · {project.get("active_runs", 0)} active</p>',
    ]
    if project.get('paused'):
        lines.append(
            f'<p class="paused">Auto paused · {failures} fail{"" if failures == 1 else "s"}'
            f'{"" if auto else " (auto is off)"}</p>'
        )
    if project.get('launch_error'):
        lines.append(
            f'<p class="blocked">The last AFK run could not start: '
            f'{html.escape(project["launch_error"].removeprefix("launch_failed: "))}</p>'
        )
    lines.append(_form_html('start', pid, f'Start AFK run ({ready if ready is not None else "?"} ready)', csrf))
    if operator:
        lines.append(_form_html('auto-off' if auto else 'auto-on', pid, f'Turn auto {"off" if auto else "on"}', csrf))
    if operator and (project.get('paused') or project.get('launch_error')):
        lines.append(_form_html('reset', pid, 'Reset', csrf))
    if parked:
        lines.append('<h3>Parked issues</h3><ul>')
        for issue in parked:
            number = int(issue['issue_number'])
            lines.append(
                f'<li>#{number} <bdi>{html.escape(issue.get("issue_title") or "")}</bdi>'
                f'{" — " + html.escape(issue["cause"]) if issue.get("cause") else ""} '
                f'{_form_html("requeue", pid, "Requeue", csrf, number)}'
                f'{_form_html("discard", pid, "Discard", csrf, number)}</li>'
            )
        lines.append('</ul>')
    lines.append('</section>')
    return ''.join(lines)


def page(body: str, notice: Notice | None = None) -> str:
    """Pure: the whole document."""
    banner = (
        f'<p class="{"error" if notice.error else "notice"}" role="status">{html.escape(notice.text)}</p>'
        if notice
        else ''
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Projects (plain) · Runboard</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<style>{_STYLE}</style></head><body><h1>Runboard · projects</h1>'
        f'<p><a href="/">Back to the full dashboard</a> (needs JavaScript)</p>{banner}{body}</body></html>'
    )


def sign_in_form(csrf: str) -> str:
    return (
        '<p>Sign in with your API token: an operator of your team makes one under Settings → People and tokens (Add '
        'person); once signed in you make your own under Your tokens.</p>'
        f'<form method="post" action="{PATH}/sign-in"><input type="hidden" name="csrf_token" '
        f'value="{html.escape(csrf)}"><label>API token <input type="password" name="token" '
        f'autocomplete="current-password" required></label> <button type="submit">Sign in</button></form>'
    )


async def _call(client: RunboardClient, action: str, project_id: str, number: int | None) -> str:
    if action == 'start':
        run = await client.start_afk(project_id)
        return f'AFK run {run["id"]} started on #{run.get("issue_number")}.'
    if action in ('auto-on', 'auto-off'):
        await client.set_auto(project_id, action == 'auto-on')
        return f'Auto AFK runs {action.removeprefix("auto-")} for {project_id}.'
    if action == 'reset':
        await client.reset_afk(project_id)
        return f'{project_id} re-armed: failure counter reset.'
    if number is None:
        raise ValueError('an issue number is needed')
    if action == 'requeue':
        await client.requeue_issue(project_id, number)
        return f'Issue #{number} is ready again.'
    await client.discard_issue(project_id, number)
    return f'Issue #{number} discarded.'


def _csrf_ok(request: Request, form: dict[str, list[str]]) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE, '')
    sent = (form.get('csrf_token') or [''])[0]
    return (
        bool(cookie)
        and secrets.compare_digest(cookie.encode(), sent.encode())  # str compare: ASCII only
        and same_origin(
            origin=request.headers.get('origin'),
            referer=request.headers.get('referer'),
            host=request.headers.get('host'),
        )
    )


async def _read_form(request: Request) -> dict[str, list[str]]:
    body = (await request.body())[:8192].decode('utf-8', 'replace')
    return parse_qs(body, keep_blank_values=True)


def _back(notice: Notice) -> RedirectResponse:
    response = RedirectResponse(PATH, status_code=303)
    response.set_cookie(
        NOTICE_COOKIE,
        ('!' if notice.error else '') + notice.text[:300],
        max_age=60,
        httponly=True,
        samesite='strict',
        path=PATH,
    )
    return response


def register() -> None:
    @web_app.get(PATH, include_in_schema=False)
    async def plain_projects(request: Request) -> HTMLResponse:
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        raw = request.cookies.get(NOTICE_COOKIE)
        notice = Notice(raw.removeprefix('!'), raw.startswith('!')) if raw else None
        if connection.sign_in_required() and not session.current_token():
            body = sign_in_form(csrf)
        else:
            try:
                client = connection.client()
                projects = await client.list_projects()
                parked = {
                    p['id']: (await client.parked_issues(p['id'])) if p.get('parked_count') else [] for p in projects
                }
                operator = controls_afk(await who_am_i())  # Auto on/off and Reset: the rule the API refuses by
                body = ''.join(project_section(p, parked[p['id']], csrf, operator=operator) for p in projects)
                body = body or '<p>No projects.</p>'
            except ApiError as exc:
                body, notice = '', Notice(f'Could not load the projects: {exc.detail}', error=True)
        response = HTMLResponse(page(body, notice), headers={'Cache-Control': 'no-store'})
        response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite='strict', path=PATH)
        response.delete_cookie(NOTICE_COOKIE, path=PATH)
        return response

    @web_app.post(PATH + '/sign-in', include_in_schema=False)
    async def plain_sign_in(request: Request) -> RedirectResponse:
        form = await _read_form(request)
        if not _csrf_ok(request, form):
            return _back(Notice('This form is out of date; try again.', error=True))
        token = (form.get('token') or [''])[0].strip()
        try:
            person = await check_token(token, request)
        except ApiError as exc:
            return _back(Notice(explain(exc), error=True))
        await session.sign_in(request, token, person)  # under a new session id: the answer sets its cookie
        return _back(Notice(f'Signed in as {person.get("name")}.'))

    @web_app.post(PATH + '/{project_id}/{action}', include_in_schema=False)
    @web_app.post(PATH + '/{project_id}/{action}/{number}', include_in_schema=False)
    async def plain_action(
        request: Request, project_id: str, action: str, number: str | None = None
    ) -> RedirectResponse:
        form = await _read_form(request)
        if action not in ACTIONS:
            return _back(Notice(f'Unknown action {action!r}.', error=True))
        if not _csrf_ok(request, form):
            return _back(Notice('This form did not come from this page (or is out of date); try again.', error=True))
        issue = int(number) if number and number.isdigit() and len(number) < 10 else None
        try:
            return _back(Notice(await _call(connection.client(), action, project_id, issue)))
        except (ApiError, ValueError) as exc:
            return _back(Notice(getattr(exc, 'detail', None) or str(exc), error=True))
