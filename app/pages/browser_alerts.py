"""Browser notifications (opt-in, per browser) when one of the person's own runs ends: a switch that asks the
browser's permission, and, on every page of a browser that said yes, a listener on the live stream that shows
`new Notification(...)` (one per run however many tabs are open: the run id is its tag)."""

from __future__ import annotations

import json

from nicegui import Client, background_tasks, context, ui

from app.client import ApiError
from app.state import connection, live
from app.state.notifications_view import BrowserAlert, is_run_end, own_run_alert

STORAGE_KEY = 'runboard.notify'
_ENABLED_JS = (
    f"!!window.Notification && Notification.permission === 'granted' && localStorage.getItem('{STORAGE_KEY}') === '1'"
)
_ASK_JS = f"""(async () => {{
  if (!window.Notification) return 'unsupported';
  const answer = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
  if (answer === 'granted') localStorage.setItem('{STORAGE_KEY}', '1');
  return answer;
}})()"""
_OFF_JS = f"localStorage.removeItem('{STORAGE_KEY}')"
REFUSED = {
    'denied': 'This browser blocks notifications from Runboard: allow them in its site settings, then switch this on.',
    'default': 'The browser asked nothing or was dismissed: switch this on again to be asked.',
    'unsupported': 'This browser cannot show notifications.',
}


def _show_js(alert: BrowserAlert) -> str:
    title, body, url, tag = (json.dumps(v) for v in (alert.title, alert.body, alert.url, alert.tag))
    return (
        f'if ({_ENABLED_JS}) {{ const n = new Notification({title}, {{body: {body}, tag: {tag}}}); '
        f'n.onclick = () => {{ window.focus(); window.location.href = {url}; n.close(); }}; }}'
    )


def browser_switch() -> None:
    """'Notify me in this browser when my runs end': on asks the browser's permission."""
    toggle = ui.switch('Notify me in this browser when my runs end').props('data-testid=browser-notify')
    hint = ui.label('').classes('text-xs opacity-70')
    tab = context.client
    busy = {'setting': True}

    async def changed() -> None:
        if busy['setting']:
            return
        if not toggle.value:
            tab.run_javascript(_OFF_JS)
            hint.text = 'Off in this browser.'
            return
        try:
            answer = await tab.run_javascript(_ASK_JS, timeout=120)
        except Exception:  # noqa: BLE001 - the tab went away, or nobody answered the browser's question
            answer = 'default'
        if answer == 'granted':
            hint.text = 'On: a notification appears when one of your runs ends, while a Runboard tab is open.'
            watch_own_runs(tab)
            return
        hint.text = REFUSED.get(str(answer), REFUSED['default'])
        busy['setting'] = True
        toggle.value = False
        busy['setting'] = False

    async def initial() -> None:
        try:
            toggle.value = bool(await tab.run_javascript(_ENABLED_JS, timeout=5))
        except Exception:  # noqa: BLE001 - the tab went away before it answered
            pass
        finally:
            busy['setting'] = False

    toggle.on_value_change(changed)
    background_tasks.create(initial(), name='browser-notify-state')


_watching: set[str] = set()  # tabs (client ids) that already listen


def watch_own_runs(tab: Client | None = None) -> None:
    """On a page of a browser that switched notifications on: show one when the person's own run ends."""
    tab = tab or context.client

    async def start() -> None:
        try:
            enabled = tab.id not in _watching and await tab.run_javascript(_ENABLED_JS, timeout=5)
        except Exception:  # noqa: BLE001 - the tab went away (or on to another page) before it answered
            return
        if not enabled:
            return
        _watching.add(tab.id)
        tab.on_delete(lambda: _watching.discard(tab.id))
        try:
            me = (await connection.client().me())['user_id']
        except ApiError:
            return

        async def ended(event: dict) -> None:
            if not is_run_end(event):
                return
            try:
                run = await connection.client().get_run(event['id'], events_limit=0)
            except ApiError:
                return
            alert = own_run_alert(run, me)
            if alert is not None:
                tab.run_javascript(_show_js(alert))

        with tab:
            live.follow(ended, tab_wide=True)  # the header's: it outlives an in-place page change

    background_tasks.create(start(), name='browser-notify-watch')
