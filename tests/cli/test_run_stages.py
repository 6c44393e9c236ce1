"""`runboard runs show` lists the run's stages with result and duration (both backends)."""

from __future__ import annotations

import re

from tests.helpers.cli import served
from tests.helpers.runs import shell_script

STAGED = shell_script('echo "::stage:: install"\necho deps\necho "::stage:: test"\necho "test_login FAILED"\nexit 1')


def test_show_lists_stages_with_result_and_duration(settings_factory, repo_factory) -> None:
    with served(settings_factory, repo_factory, branches={'staged': STAGED}) as (server, cli):
        args = ('runs', 'trigger', '--project', 'proj', '--framework', 'python', '--depth', 'shallow')
        run = cli(*args, '--branch', 'staged', '--follow', '--json').json()
        assert run['status'] == 'failed'
        human = cli('runs', 'show', run['id'])
        assert human.code == 0, human.stderr
        rows = [line.split() for line in human.stdout.splitlines()]
        assert ['STAGE', 'RESULT', 'TOOK', 'STARTED'] in rows
        install = next(row for row in rows if row[:2] == ['install', 'succeeded'])
        test = next(row for row in rows if row[:2] == ['test', 'failed'])
        assert re.fullmatch(r'\d+\.\ds', install[2]) and re.fullmatch(r'\d+\.\ds', test[2])
        assert any(row[:1] == ['checkout'] and 'succeeded' in row for row in rows)
        shown = cli('runs', 'show', run['id'], '--json').json()
        assert [(s['name'], s['result']) for s in shown['stages'][1:]] == [('install', 'succeeded'), ('test', 'failed')]
