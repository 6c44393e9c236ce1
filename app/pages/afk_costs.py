"""The project page's AFK cost section (docs/afk.md, "Cost"): today against the daily cap, cost per UTC day and per
issue, from what the project's AFK runs reported with `::usage::` lines. Shown once any AFK run reported a cost or
the project has a cap."""

from __future__ import annotations

from nicegui import ui

from app.state import connection
from app.state.afk_costs import load, per_day_chart, per_issue_chart, today_text


async def afk_costs_section(project_id: str) -> None:
    costs = await load(connection.client(), project_id)
    if costs is None or (costs.get('cap_usd') is None and not any(d['cost_usd'] for d in costs.get('days') or [])):
        return
    with ui.column().classes('w-full gap-1').props('data-testid=afk-costs'):
        ui.label('AFK cost').classes('text-lg font-medium').props('role=heading aria-level=2')
        ui.label(today_text(costs)).classes(
            'text-sm font-bold text-negative' if costs.get('capped') else 'text-sm'
        ).props('data-field=cost-today')
        with ui.row().classes('w-full gap-4 no-wrap max-md:flex-wrap'):
            ui.echart(per_day_chart(costs)).classes('w-full h-56').props('data-testid=cost-per-day')
            ui.echart(per_issue_chart(costs)).classes('w-full h-56').props('data-testid=cost-per-issue')
