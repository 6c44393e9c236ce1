"""Shared page chrome and small display helpers."""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nicegui import background_tasks, ui

from app.pages.attributes import attrs
from app.pages.browser_alerts import watch_own_runs
from app.pages.live_banner import LivePausedBanner
from app.pages.operator_only import operator_links
from app.pages.provenance_chip import ProvenanceChip, forget_about
from app.state import connection, session
from app.state.me import who_am_i

# Badge fills under white text: each has at least 4.5:1 against it (WCAG AA), in both themes (issue 42)
STATUS_COLORS = {
    'queued': 'grey-8',
    'running': 'blue-9',
    'succeeded': 'green-9',
    'failed': 'red-8',
    'timed_out': 'deep-orange-10',
    'crashed': 'deep-purple-7',
    'stopped': 'blue-grey-7',
    'stopping': 'blue-grey-8',
    'submitting': 'grey-8',
    'delayed': 'indigo-7',  # waiting for its time, holding nothing
    'expired': 'brown-7',  # its queue TTL passed before it started
    'skipped': 'pink-9',  # refused when it was due
    'cancelled': 'blue-grey-9',  # queued, replaced by a newer push before it started
}
LOGOUT_PATH = '/logout'
NOSCRIPT_HTML = (
    '<noscript><p style="padding:12px 16px;margin:0;background:#fff3e0;color:#5d2c00;font:16px sans-serif">'
    'JavaScript is off. The <a href="/plain">plain project list</a> has every project action '
    '(Start AFK run, Auto on/off, Reset, Requeue, Discard) as plain forms.</p></noscript>'
)

STATUS_LABELS = {'timed_out': 'timed out', 'submitting': 'Submitting…', 'awaiting_approval': 'awaiting approval'}


@contextmanager
def frame(title: str, *, show_person: bool = True) -> Iterator[None]:
    ui.add_head_html(
        '<link rel="stylesheet" href="/assets/runboard.css">'
        '<script defer src="/assets/live-time.js"></script>'
        '<script defer src="/assets/in-place.js"></script>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
    )
    ui.add_body_html(NOSCRIPT_HTML)  # without JavaScript: a link to the plain project list (app/pages/plain.py)
    ui.dark_mode(None)  # follow the system
    ui.page_title(f'{title} · Runboard')  # tabs and history tell pages apart
    # its own line, then under it the banner while the server's live updates are paused
    with ui.header().classes('px-4 py-2').style('flex-direction: column; align-items: stretch; gap: 0'):
        with ui.row().classes('w-full items-center justify-between'):  # wraps, as the header did
            with ui.link(target='/').classes('text-white no-underline flex items-center gap-2'):
                ui.icon('sports_score').classes('text-2xl')
                ui.label('Runboard').classes('text-lg font-bold')
            # wraps onto a second line where a phone has no room for all of it (WCAG reflow: nothing past the edge)
            with ui.row().classes('items-center gap-x-3 gap-y-1 flex-wrap justify-end min-w-0'):
                if show_person:  # a page someone may read data on (not the sign-in page, whose reader may see none)
                    ui.link('Workers', '/workers').classes('text-white text-sm rb-tap-link').props(
                        'data-testid=nav-workers'
                    )
                    operator_links()  # Audit, Settings

                    chip = ProvenanceChip()
                # narrow screens: the page's own heading names it; a title cut to one letter says nothing
                title_label = ui.label(title).classes('text-sm opacity-80 truncate rb-wide-only')
                title_label.props('data-testid=page-name')
                if show_person:
                    _person_menu(chip)

                    # a browser notification when the person's own run ends (opt-in: notifications page)
                    watch_own_runs()
        if show_person:
            LivePausedBanner()
    with ui.column().classes('w-full max-w-6xl mx-auto p-2 sm:p-4 gap-4') as content:
        _frames[ui.context.client] = PageFrame(content, title_label)
        yield


@dataclass
class PageFrame:
    """What a page drew inside the chrome, and the page's name in the header: what an in-place page change
    (pages/run_page.py open_in_place) replaces."""

    content: ui.column
    title: ui.label


_frames: weakref.WeakKeyDictionary[Any, PageFrame] = weakref.WeakKeyDictionary()


def page_frame() -> PageFrame | None:
    """This tab's frame, when its page drew one."""
    return _frames.get(ui.context.client)


def retitle_page(title: str) -> None:
    """The tab's title and the header's page name, when what the page shows changed its name in place (as `frame`
    named them)."""
    ui.page_title(f'{title} · Runboard')
    page = page_frame()
    if page is not None:
        page.title.text = title


def _person_menu(chip: ProvenanceChip) -> None:
    """With sign-in: who is signed in (name, role), for a builder the way to their own tokens (personal tokens; an
    operator's is Settings) and Sign out."""
    if not connection.sign_in_required():
        return
    person = session.current_person() or {}
    signed_in_as = (
        ui.label(f'{person.get("name") or "?"} · {person.get("role") or "?"}')
        .classes('text-sm whitespace-nowrap')
        .props('data-testid=signed-in-as')
    )
    with (
        ui.link(target='/settings/tokens')
        .classes('text-white text-sm rb-tap-link flex items-center gap-1 whitespace-nowrap')
        .props('data-testid=nav-your-tokens aria-label="Your tokens" title="Your tokens"') as your_tokens
    ):
        ui.icon('key').props('aria-hidden=true')
        ui.label('Your tokens').classes('rb-wide-only')  # a phone: the key alone
    # an operator's way there is Settings (a phone's header has no room for both)
    your_tokens.set_visibility(person.get('role') != 'operator')
    ui.button('Sign out', on_click=sign_out).props('flat dense color=white no-caps data-testid=sign-out')

    async def as_now() -> None:
        """Who they are now: a role an operator changed since the sign-in (theirs or their own) shows at once."""
        me = await who_am_i(fresh=True)  # the page's other parts then read the same answer
        if me is None or signed_in_as.is_deleted or me.get('role') == person.get('role'):
            return
        session.remember_person({'name': me.get('name'), 'role': me.get('role'), 'user_id': me.get('user_id')})
        forget_about()  # the chip's cached answer names the old role: it asks again
        await chip.load()
        signed_in_as.text = f'{me.get("name") or "?"} · {me.get("role") or "?"}'
        your_tokens.set_visibility(me.get('role') != 'operator')

    background_tasks.create(as_now(), name='signed-in-as')


def status_badge(status: str) -> ui.badge:
    badge = ui.badge(STATUS_LABELS.get(status, status), color=STATUS_COLORS.get(status, 'grey'))
    return attrs(badge.classes('text-sm px-2 py-1'), {'data-status': status})


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def relative(value: str | None, now: datetime | None = None) -> str:
    moment = parse_time(value)
    if moment is None:
        return '—'
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 5:
        return 'just now'
    for size, unit in ((86400, 'd'), (3600, 'h'), (60, 'min')):
        if seconds >= size:
            return f'{seconds // size} {unit} ago'
    return f'{seconds} s ago'


def duration(run: dict, now: datetime | None = None) -> str:
    start = parse_time(run.get('started_at'))
    if start is None:
        return '—'
    end = parse_time(run.get('finished_at')) or now or datetime.now(UTC)
    seconds = max(0, int((end - start).total_seconds()))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}:{minutes:02d}:{secs:02d}' if hours else f'{minutes}:{secs:02d}'


def iso_utc(value: str | None) -> str:
    """An API time as ISO 8601 with its zone, for the browser's clock (assets/live-time.js)."""
    moment = parse_time(value)
    return moment.isoformat() if moment else ''


def live_relative(label: ui.label, value: str | None, *, prefix: str = '') -> ui.label:
    """A relative time ("12 s ago") that the browser keeps true each second."""
    label.text = prefix + relative(value)
    if value:
        attrs(label, {'data-rb-time': iso_utc(value), 'data-rb-prefix': prefix})
    return label


def live_duration(label: ui.label, run: dict) -> ui.label:
    """A run's duration; while it runs, the browser counts it up each second."""
    label.text = duration(run)
    if run.get('started_at') and not run.get('finished_at'):
        attrs(label, {'data-rb-since': iso_utc(run['started_at'])})
    else:
        label.props(remove='data-rb-since')
    return label


def post_form(action: str, fields: dict[str, str]) -> None:
    """Have this tab's browser post a form to `action` (a top-level navigation: its answer may set cookies)."""
    ui.run_javascript(
        f"""const form = document.createElement('form');
        form.method = 'post';
        form.action = {json.dumps(action)};
        for (const [name, value] of Object.entries({json.dumps(fields)})) {{
          const input = document.createElement('input');
          input.type = 'hidden';
          input.name = name;
          input.value = value;
          form.appendChild(input);
        }}
        document.body.appendChild(form);
        form.submit();"""
    )


def sign_out() -> None:
    session.sign_out()  # at once, over the websocket: this session id holds no token any more
    post_form(LOGOUT_PATH, {})
