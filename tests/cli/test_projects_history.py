"""`runboard projects history` against a running server (both backends), and its pure parts."""

from __future__ import annotations

import pytest

from app.cli.history_view import rate_blocks, rate_line
from tests.helpers.api import run_body
from tests.helpers.cli import served
from tests.helpers.runs import wait_for_status


def test_history_prints_the_newest_runs_and_the_success_rate(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with served(settings_factory, repo_factory) as (server, cli), server.client() as api:
        made = []
        for branch, depth in (('main', 'shallow'), ('feature/x', 'deep'), ('main', 'shallow')):
            run = api.post('/api/runs', json=run_body(branch=branch, depth=depth)).json()
            made.append(wait_for_status(api, run['id']))
        assert [r['status'] for r in made] == ['succeeded', 'failed', 'succeeded']

        shown = cli('projects', 'history', 'proj')
        assert shown.code == 0, shown.stderr
        lines = shown.stdout.splitlines()
        rows = [line for line in lines if line.startswith('run_')]
        assert [row.split()[0] for row in rows] == [r['id'] for r in reversed(made)]  # newest first
        assert rows[1].split()[1:3] == ['failed', 'feature/x']
        assert 'Success rate, last 30 days: 67 % (2 of 3 runs)' in shown.stdout
        chart = next(line for line in lines if '·' in line)
        assert chart.split()[1].endswith('▆') and len(chart.split()[1]) == 30  # today: 2 of 3

        as_json = cli('projects', 'history', 'proj', '--branch', 'feature/x', '--days', '7', '--json').json()
        assert [r['id'] for r in as_json['runs']] == [made[1]['id']]
        assert as_json['branch'] == 'feature/x' and len(as_json['days']) == 7
        assert as_json['totals']['failed'] == 1 and as_json['totals']['success_rate'] == 0.0

        limited = cli('projects', 'history', 'proj', '-n', '1')
        assert [line.split()[0] for line in limited.stdout.splitlines() if line.startswith('run_')] == [made[2]['id']]
        missing = cli('projects', 'history', 'nope')
        assert missing.code == 4 and 'not found' in missing.stderr
        assert cli('projects', 'history', 'proj', '--days', '91').code == 2


@pytest.mark.parametrize(
    ('rates', 'blocks'),
    [
        ([None, 0.0, 0.5, 1.0], '·▁▅█'),
        ([0.99, 0.12], '█▁'),
        ([], ''),
    ],
)
def test_rate_blocks(rates: list, blocks: str) -> None:
    assert rate_blocks([{'success_rate': r} for r in rates]) == blocks


@pytest.mark.parametrize(
    ('totals', 'text'),
    [
        ({'finished': 0, 'succeeded': 0, 'failed': 0, 'stopped': 0, 'success_rate': None}, 'no finished runs'),
        ({'finished': 2, 'succeeded': 0, 'failed': 0, 'stopped': 2, 'success_rate': None}, 'no verdict (2 stopped)'),
        (
            {'finished': 7, 'succeeded': 4, 'failed': 2, 'stopped': 1, 'success_rate': 0.6667},
            '67 % (4 of 6 runs; 1 stopped)',
        ),
    ],
)
def test_rate_line(totals: dict, text: str) -> None:
    assert rate_line(totals, 30) == f'Success rate, last 30 days: {text}'
