"""Project page: the Run form."""
from __future__ import annotations

from nicegui import ui

from app.client import ApiError, new_idempotency_key
from app.pages.runs_list import runs_list
from app.pages.theme import frame
from app.state import connection


@ui.page('/projects/{project_id}')
async def project_page(project_id: str) -> None:
    client = connection.client()
    try:
        project = await client.get_project(project_id)
        branches = await client.branches(project_id)
    except ApiError as exc:
        with frame('Project'):
            ui.label(str(exc)).classes('text-negative')
        return
    key = new_idempotency_key()
    with frame(project['name']):
        branch = ui.select([b['name'] for b in branches], value=project['base_branch'], label='Branch',
                           with_input=True).classes('w-full sm:w-96')
        depth = ui.select(project['depth_levels'], value=project['depth_levels'][0], label='Depth level')
        framework = ui.select(project['target_frameworks'], value=project['target_frameworks'][0],
                              label='Target framework')
        message = ui.label().classes('text-negative')

        async def submit() -> None:
            try:
                reply = await client.trigger_run(project_id=project_id, branch=branch.value, depth_level=depth.value,
                                                 target_framework=framework.value, key=key)
            except ApiError as exc:
                message.text = str(exc)
                return
            ui.navigate.to(f'/runs/{reply.data["id"]}')

        ui.button('Run', icon='play_arrow', on_click=submit).classes('rb-tap')
        ui.label('Runs').classes('text-lg font-medium')
        await runs_list(project=project_id)
