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


ANNOTATED = shell_script(
    "echo '::group::Install'\necho deps\necho '::endgroup::'\n"
    "echo '::error file=app.py,line=3::boom'\necho '::notice title=Deploy::skipped'\nexit 1"
)


def test_show_lists_annotations_and_the_run_stage(settings_factory, repo_factory) -> None:
    with served(settings_factory, repo_factory, branches={'annotated': ANNOTATED}) as (server, cli):
        args = ('runs', 'trigger', '--project', 'proj', '--framework', 'python', '--depth', 'shallow')
        run = cli(*args, '--branch', 'annotated', '--follow', '--json').json()
        human = cli('runs', 'show', run['id'], '--lines', '0')
        assert human.code == 0, human.stderr
        rows = [line.split() for line in human.stdout.splitlines()]
        assert ['LEVEL', 'MESSAGE', 'WHERE', 'LINE'] in rows
        error = next(row for row in rows if row[:1] == ['error'])
        notice = next(row for row in rows if row[:1] == ['notice'])
        shown = cli('runs', 'show', run['id'], '--json').json()
        seqs = [a['seq'] for a in shown['annotations']]
        assert error == ['error', 'boom', 'app.py:3', f'#L{seqs[0]}']
        assert notice == ['notice', 'Deploy:', 'skipped', f'#L{seqs[1]}']
        assert any(row[:2] == ['run', 'failed'] for row in rows)  # no markers: the output ran in "run"
