"""The project page's AFK cost charts (pages/afk_costs.py): GET /api/afk/costs/{id} read through app.client, and
the ECharts options built from it (pure; no NiceGUI here)."""

from __future__ import annotations

from typing import Any

from app.client import ApiError, RunboardClient

ISSUES_SHOWN = 10


def today_text(costs: dict[str, Any]) -> str:
    """`Today $0.84 of a $20.00 cap` / `… — cap reached, the loop waits` / `Today $0.84 · no cap`."""
    today = f'Today ${costs.get("today_usd") or 0:,.2f}'
    cap = costs.get('cap_usd')
    if cap is None:
        return f'{today} · no daily cap'
    reached = ' — cap reached: the loop launches no more today' if costs.get('capped') else ''
    return f'{today} of a ${cap:,.2f} daily cap{reached}'


def per_day_chart(costs: dict[str, Any], *, dark: bool = False) -> dict[str, Any]:
    days = costs.get('days') or []
    text = '#e0e0e0' if dark else '#333'
    series: list[dict[str, Any]] = [
        {
            'type': 'bar',
            'name': 'AFK cost',
            'data': [round(d['cost_usd'], 2) for d in days],
            'itemStyle': {'color': '#1976d2'},
        }
    ]
    if costs.get('cap_usd') is not None:
        series[0]['markLine'] = {
            'symbol': 'none',
            'data': [{'yAxis': costs['cap_usd'], 'name': 'cap'}],
            'lineStyle': {'color': '#c62828', 'type': 'dashed'},
            'label': {'formatter': 'cap', 'position': 'insideEndTop', 'color': text},
        }
    return {
        'aria': {'enabled': True},
        'title': {'text': 'AFK cost per day (UTC)', 'textStyle': {'fontSize': 13, 'color': text}},
        'tooltip': {'trigger': 'axis'},
        'grid': {'left': 48, 'right': 16, 'top': 36, 'bottom': 28},
        'xAxis': {'type': 'category', 'data': [d['day'][5:] for d in days], 'axisLabel': {'color': text}},
        'yAxis': {'type': 'value', 'name': 'USD', 'axisLabel': {'color': text}},
        'series': series,
    }


def per_issue_chart(costs: dict[str, Any], *, dark: bool = False) -> dict[str, Any]:
    issues = list(reversed((costs.get('issues') or [])[:ISSUES_SHOWN]))  # the costliest at the top
    text = '#e0e0e0' if dark else '#333'
    return {
        'aria': {'enabled': True},
        'title': {'text': 'AFK cost per issue', 'textStyle': {'fontSize': 13, 'color': text}},
        'tooltip': {'trigger': 'axis'},
        'grid': {'left': 64, 'right': 16, 'top': 36, 'bottom': 28},
        'xAxis': {'type': 'value', 'name': 'USD', 'axisLabel': {'color': text}},
        'yAxis': {'type': 'category', 'data': [f'#{i["issue_number"]}' for i in issues], 'axisLabel': {'color': text}},
        'series': [
            {
                'type': 'bar',
                'name': 'AFK cost',
                'data': [round(i['cost_usd'], 2) for i in issues],
                'itemStyle': {'color': '#7b1fa2'},
            }
        ],
    }


async def load(client: RunboardClient, project_id: str) -> dict | None:
    try:
        return (await client.request('GET', f'/afk/costs/{project_id}')).data
    except ApiError:
        return None
