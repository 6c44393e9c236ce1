"""The project page's Tests section (docs/artifacts.md): its flakiest tests (passed and failed on one commit most
often), a chart of the test count and failures per run, and the base branch's coverage per run, from
GET /api/projects/{id}/tests. Shown once the project has runs with test or coverage reports."""

from __future__ import annotations

from nicegui import ui

from app.client import ApiError
from app.state import connection
from app.state.artifacts_view import coverage_chart, coverage_trend_text, tests_chart
from app.state.text import shown


async def project_tests_section(project_id: str) -> None:
    try:
        answer = await connection.client().project_tests(project_id)
    except ApiError:
        return  # the rest of the page stands without it
    if not answer.get('history') and not answer.get('coverage'):
        return
    with ui.column().classes('w-full gap-2').props('data-testid=project-tests'):
        ui.label('Tests').classes('text-lg font-medium').props('role=heading aria-level=2')
        if answer.get('coverage'):
            _coverage(answer['coverage_branch'], answer['coverage'])
        if not answer.get('history'):
            return
        with ui.row().classes('w-full gap-4 flex-wrap items-start'):
            with ui.column().classes('min-w-80 flex-1'):
                # every test that failed lately, flakiest first: "flakiest" alone named a test that failed once
                ui.label('Failing tests, flakiest first').classes('text-sm font-bold')
                flakiest = answer.get('flakiest') or []
                if not flakiest:
                    ui.label('No test has failed in the recent runs.').classes('text-sm opacity-70')
                rows = [
                    {
                        'test': shown(item['test_id']),
                        'flaky': item['flaky_commits'],
                        'failures': f'{item["failures"]} of {item["runs"]}',
                        'last': item.get('last_failed_run_id') or '',
                    }
                    for item in flakiest
                ]
                if rows:
                    table = (
                        ui.table(
                            columns=[
                                {'name': 'test', 'label': 'Test', 'field': 'test', 'align': 'left'},
                                {'name': 'flaky', 'label': 'Flaky commits', 'field': 'flaky'},
                                {'name': 'failures', 'label': 'Failed runs', 'field': 'failures'},
                                {'name': 'last', 'label': 'Last failed', 'field': 'last', 'align': 'left'},
                            ],
                            rows=rows,
                            row_key='test',
                        )
                        .props('dense flat wrap-cells data-testid=flakiest-tests')
                        .classes('w-full')
                    )
                    table.add_slot(  # the run it last failed in, one click away; on a phone its id's end, whole
                        'body-cell-last',
                        r"""<q-td :props="props"><a v-if="props.value" :href="'/runs/' + props.value"
                        :title="props.value" :aria-label="'run ' + props.value"
                        class="nicegui-link rb-tap-link whitespace-nowrap" data-testid=last-failed
                        >{{ $q.screen.lt.sm ? '…' + props.value.slice(-8) : props.value }}</a></q-td>""",
                    )
            with ui.column().classes('min-w-80 flex-1'):
                ui.label('Tests and failures per run').classes('text-sm font-bold')
                ui.echart(tests_chart(answer['history'])).classes('w-full h-56').props('data-testid=tests-chart')


def _coverage(branch: str, points: list[dict]) -> None:
    with ui.column().classes('w-full gap-1'):
        ui.label(coverage_trend_text(branch, points)).classes('text-sm font-bold').props('data-testid=coverage-trend')
        ui.echart(coverage_chart(points)).classes('w-full h-48').props('data-testid=coverage-chart')
