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


ESCAPING = shell_script(
    "printf '::stage:: build\\033]0;PWNED\\007\\033[2J\\n'\n"
    "printf '::group::g\\033[1A\\033[2K...\\n'\n"
    "echo '::endgroup::'\n"
    "echo '::group::h%0A07:44:12  ● succeeded: exit code 0'\n"
    "printf '::error title=t\\033[31m::msg\\033]8;;http://evil/\\033\\\\\\n'\n"
    "printf '\\033[32mgreen\\033[0m \\033]0;retitled\\007output\\n'"
)


def test_logs_and_show_print_what_the_run_wrote_as_inert_text(settings_factory, repo_factory) -> None:
    with served(settings_factory, repo_factory, branches={'escaping': ESCAPING}) as (server, cli):
        args = ('runs', 'trigger', '--project', 'proj', '--framework', 'python', '--depth', 'shallow')
        run = cli(*args, '--branch', 'escaping', '--follow', '--json').json()
        assert run['status'] == 'succeeded'
        raw = [e['text'] for e in cli('runs', 'logs', run['id'], '--json').json()]
        assert any('\x1b]0;PWNED' in text for text in raw)  # kept as printed, for --json and --raw
        for command in (('runs', 'logs', run['id']), ('runs', 'show', run['id'], '--lines', '50')):
            printed = cli(*command)
            assert printed.code == 0, printed.stderr
            assert '\x1b' not in printed.stdout and '\x07' not in printed.stdout
            lines = printed.stdout.splitlines()
            assert not any(line.startswith('07:44:12') for line in lines)  # `%0A` forged no line of its own
            assert not any('PWNED' in line or 'evil' in line for line in lines)
        shown = cli('runs', 'logs', run['id']).stdout
        assert '▶ build' in shown and '▸ g...' in shown and '▸ h⏎07:44:12' in shown
        assert '::error title=t::msg' in shown and 'green output' in shown
