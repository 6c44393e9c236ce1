"""Run timeline: status, parameters and live output."""
from __future__ import annotations

from nicegui import ui

from app.client import ApiError
from app.pages.theme import frame, status_badge
from app.state import connection, live


@ui.page('/runs/{run_id}')
async def run_page(run_id: str) -> None:
    client = connection.client()
    try:
        run = await client.get_run(run_id)
    except ApiError as exc:
        with frame('Run'):
            ui.label(str(exc)).classes('text-negative')
        return
    state = {'last_seq': 0}
    with frame(f'Run {run_id}'):
        header = ui.row().classes('items-center gap-3')
        output = ui.log(max_lines=5000).classes('w-full h-[60vh] rb-log')

    def render_header(data: dict) -> None:
        header.clear()
        with header:
            status_badge(data['status'])
            ui.label(f'{data["project_id"]} · {data["branch_name"]} · {data["depth_level"]} · '
                     f'{data["target_framework"]} · {data["kind"]}')
            if data.get('exit_code') is not None:
                ui.label(f'exit code {data["exit_code"]}').classes('text-sm opacity-70')

    def push(events: list[dict]) -> None:
        for event in events:
            if event['seq'] <= state['last_seq']:
                continue
            state['last_seq'] = event['seq']
            prefix = {'stage': '▶ ', 'status': '● '}.get(event['type'], '')
            output.push(prefix + event['text'], classes='stage' if event['type'] != 'output' else None)

    render_header(run)
    push(run['events'])

    async def catch_up() -> None:
        while True:
            events = await client.run_events(run_id, after=state['last_seq'], limit=5000)
            push(events)
            if len(events) < 5000:
                break
        render_header(await client.get_run(run_id, events_limit=0))

    async def on_event(event: dict) -> None:
        if event.get('id') == run_id:
            await catch_up()

    live.follow(on_event, run=run_id, on_reconnect=catch_up)
