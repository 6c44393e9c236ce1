"""Every command explains itself, and the shell completion typer installs completes commands, options and
project ids (asked of the server)."""

from __future__ import annotations

import re
from pathlib import Path

import shellingham
import typer.main

from app.cli.help_types import value_name
from app.cli.main import COMMANDS, GROUPS, app, build
from app.cli.policy import Exit
from tests.helpers.cli import CliRunner, served


def _commands(group, path=()):  # noqa: ANN001, ANN202
    for name, command in group.commands.items():
        yield (*path, name), command
        if hasattr(command, 'commands'):
            yield from _commands(command, (*path, name))


def test_every_command_has_help() -> None:
    commands = dict(_commands(typer.main.get_command(app)))
    assert {
        ('runs', 'trigger'),
        ('runs', 'retry'),
        ('runs', 'list'),
        ('runs', 'show'),
        ('runs', 'logs'),
        ('runs', 'stop'),
        ('projects', 'add'),
        ('projects', 'edit'),
        ('issues', 'add'),
        ('afk', 'start'),
        ('afk', 'reset'),
        ('quota',),
        ('serve',),
        ('db', 'upgrade'),
    } <= set(commands)
    for path, command in commands.items():
        assert (command.help or '').strip(), f'{" ".join(path)} has no help text'
        result = CliRunner().invoke(app, [*path, '--help'], env={'COLUMNS': '120'})
        assert result.exit_code == 0 and 'Usage:' in result.stdout, path
        if not hasattr(command, 'commands') and path[0] in ('runs', 'projects', 'issues', 'afk', 'quota'):
            assert '--server' in result.stdout and '--json' in result.stdout, path


def test_a_group_lists_each_command_by_its_whole_first_paragraph() -> None:
    """A command's row in its group's help reads as one sentence wrapped to the width, not broken where its
    docstring's lines end."""
    root = typer.main.get_command(app)
    for path, group in [((), root), *((p, c) for p, c in _commands(root) if hasattr(c, 'commands'))]:
        shown = CliRunner().invoke(app, [*path, '--help'], env={'COLUMNS': '400'}).stdout
        for name, command in group.commands.items():
            summary = ' '.join((command.short_help or command.help or '').split('\n\n')[0].split())
            assert summary, (path, name)
            assert any(summary in line for line in shown.splitlines()), (path, name, summary)


def test_help_names_values_not_python_types() -> None:
    """No <bool>, <str>, <int range> or <list[str]> after an option: a flag shows no value, an option a name for
    it (BRANCH, N, WHEN), an argument just its name; an option given several times says so. An argument in a usage
    line reads NAME when required and [NAME] when not (typer wrote `{NAME} [value]`). One pass renders each help
    once (rich takes a fifth of a second a page)."""
    root = typer.main.get_command(app)
    usages = {}
    for path, command in [((), root), *_commands(root)]:
        result = CliRunner().invoke(app, [*path, '--help'], env={'COLUMNS': '200'})
        assert result.exit_code == 0, path
        usages[path] = usage = next(line for line in result.stdout.splitlines() if 'Usage:' in line).strip()
        assert '{' not in usage and not re.search(r'\[[a-z]', usage), usage
        placeholders = re.findall(r'<[a-z][a-z_ \[\]|,]*>', result.stdout)
        assert not placeholders, f'runboard {" ".join(path)} --help shows {placeholders}'
        for param in getattr(command, 'params', []):
            if getattr(param, 'multiple', False):
                assert 'repeat' in (param.help or '').lower(), (path, param.name)
                assert re.search(rf'{param.opts[0]}\s+(-\w\s+)?{re.escape(value_name(param) or "?")}\s', result.stdout)
    listed = CliRunner().invoke(app, ['runs', 'list', '--help'], env={'COLUMNS': '200'}).stdout
    assert re.search(r'--status\s+-s\s+STATUS\s', listed) and re.search(r'--limit\s+-n\s+N \[1<=x<=500\]', listed)
    assert re.search(r'--follow\s+Stream', CliRunner().invoke(app, ['runs', 'trigger', '--help']).stdout)  # a flag
    assert re.search(r'RUN_ID\s+The run', CliRunner().invoke(app, ['runs', 'show', '--help']).stdout)
    assert usages[('variables', 'set')] == 'Usage: runboard variables set [OPTIONS] NAME [VALUE]'
    assert usages[('issues', 'edit')] == 'Usage: runboard issues edit [OPTIONS] PROJECT NUMBER'
    assert usages[('runs', 'trigger')] == 'Usage: runboard runs trigger [OPTIONS] [PROJECT]'  # or --project
    assert usages[('runs', 'approve')] == 'Usage: runboard runs approve [OPTIONS] [RUN_ID]...'


def complete(words: str, **env: str) -> list[str]:
    result = CliRunner().invoke(
        app,
        [],
        prog_name='runboard',
        env={
            '_RUNBOARD_COMPLETE': 'complete_bash',
            'COMP_WORDS': words,
            'COMP_CWORD': str(len(words.split(' ')) - 1),
            **env,
        },
    )
    assert result.exit_code == 0, result.output
    return result.stdout.split()


def test_shell_completion(settings_factory, repo_factory, monkeypatch) -> None:  # noqa: ANN001
    assert complete('runboard runs tr') == ['trigger']
    assert complete('runboard runs trigger --fol') == ['--follow']
    # --show-completion prints the script for the shell it runs in, found by walking up the process tree: the
    # user's shell is bash here, whatever started pytest (a test run started without a shell found none)
    monkeypatch.setattr(shellingham, 'detect_shell', lambda: ('bash', '/bin/bash'))
    script = CliRunner().invoke(app, ['--show-completion'], prog_name='runboard')
    assert script.exit_code == 0 and 'complete -o default -F _runboard_completion runboard' in script.stdout
    with served(settings_factory, repo_factory) as (server, _cli):
        env = {'RUNBOARD_SERVER': server.base_url, 'RUNBOARD_TOKEN': server.token}
        assert complete('runboard runs trigger --project pr', **env) == ['proj']
        assert complete('runboard projects show ', **env) == ['proj']


def test_a_group_without_a_command_prints_its_help_and_exits_0() -> None:
    """`runboard` and `runboard runs` alone once exited 2, a usage error; like `gh` and `gh pr` they print their help
    on stdout and exit 0. A command that does not exist is still exit 2."""
    for path in ((), ('runs',), ('users',)):
        bare = CliRunner().invoke(app, list(path), env={'COLUMNS': '120'})
        assert bare.exit_code == 0, (path, bare.stdout, bare.stderr)
        assert f'Usage: {" ".join(("runboard", *path))} [OPTIONS] COMMAND' in bare.stdout and not bare.stderr
    assert CliRunner().invoke(app, ['runs', 'nope']).exit_code == 2


def test_a_command_built_alone_reads_and_behaves_as_in_the_whole_app() -> None:
    """`runboard runs list` builds the runs group alone (app/cli/main.py): each command's help, and a group run bare,
    are the same as the whole app's."""
    whole = dict(_commands(typer.main.get_command(app)))
    for name in [*GROUPS, *COMMANDS]:
        alone = build(only=name)
        paths = [path for path in whole if path[0] == name]
        assert paths and set(paths) == {path for path in dict(_commands(typer.main.get_command(alone)))}
        for path in paths:
            want = CliRunner().invoke(app, [*path, '--help'], env={'COLUMNS': '120'})
            got = CliRunner().invoke(alone, [*path, '--help'], env={'COLUMNS': '120'})
            assert (got.exit_code, got.stdout) == (want.exit_code, want.stdout), path
    bare = CliRunner().invoke(build(only='runs'), ['runs'], env={'COLUMNS': '120'})
    assert bare.exit_code == 0 and bare.stdout == CliRunner().invoke(app, ['runs'], env={'COLUMNS': '120'}).stdout


def test_the_exit_codes_in_root_help_are_those_docs_cli_md_lists() -> None:
    """A script's author reads the codes in `runboard --help` or in docs/cli.md: both name the same ones, every code
    the CLI exits with among them (130 and 141 too)."""
    docs = Path(__file__).parents[2].joinpath('docs', 'cli.md').read_text()
    table = docs.split('## Exit codes', 1)[1].split('\n\n', 2)[1]
    documented = {int(row.split('|')[1]) for row in table.splitlines()[2:]}
    shown = ' '.join(CliRunner().invoke(app, ['--help'], env={'COLUMNS': '200'}).stdout.split())
    said = shown.split('Exit codes: ', 1)[1]
    in_help = {int(code) for code in re.findall(r'(?:^|, )(\d+) ', said)}
    assert in_help == documented, (in_help, documented)
    assert {int(code) for code in Exit} | {130} <= documented == {0, 1, 2, 3, 4, 5, 130, 141}
