"""The `runboard` command line: a typer app on app/client/__init__.py (the same HTTP API the UI uses).

Exit codes: 0 ok; 1 a followed run did not succeed (or a webhook test not delivered); 2 usage; 3 refused (429/409);
4 not found or forbidden; 5 server unreachable; 130 interrupted; 141 the reader of stdout went away (`| head`). See
app/cli/policy.py.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated, Optional

import typer

from app.cli.context import RootServerOpt
from app.cli.help_types import help_when_bare, one_line_summaries
from app.cli.help_types import install as install_help_types

# Each group and command of `runboard`, loaded when it is named: `runboard runs list` imports and builds the runs
# group alone. typer builds every command of an app before it parses anything (0.15 s for all of them here, with
# their modules' imports a half of the CLI's start), and scripts call the CLI in loops. Root help, shell completion
# and an unknown word get the whole app.
GROUPS = {
    'runs': 'app.cli.runs:runs_app',
    'projects': 'app.cli.projects:projects_app',
    'schedules': 'app.cli.schedules:schedules_app',
    'issues': 'app.cli.issues:issues_app',
    'afk': 'app.cli.afk:afk_app',
    'notifications': 'app.cli.notifications:notifications_app',
    'db': 'app.cli.admin:db_app',
    'users': 'app.cli.admin:users_app',
    'tokens': 'app.cli.tokens:tokens_app',
    'secrets': 'app.cli.variables:secrets_app',
    'variables': 'app.cli.variables:variables_app',
    'workers': 'app.cli.workers:workers_app',
}
# commands a group gets from modules beside its own (they share those modules' code)
GROUP_EXTRAS = {
    'runs': {'batch': 'app.cli.batch:show_batch'},  # a matrix batch: runs trigger --matrix makes one
    'users': {
        'list': 'app.cli.people:users_list',
        'role': 'app.cli.people:users_role',
        'remove': 'app.cli.people:users_remove',
        'revoke': 'app.cli.tokens:users_revoke',
    },
}
COMMANDS = {
    'quota': 'app.cli.quota:quota',
    'status': 'app.cli.status:status',
    'audit': 'app.cli.audit:audit',
    'serve': 'app.cli.admin:serve',
    'open': 'app.cli.open_link:open_ui',
    'worker': 'app.cli.admin:worker',
}
COMPLETION_VARIABLE = '_RUNBOARD_COMPLETE'

install_help_types()  # no <bool>, <str> or <list[str]> in --help


def _load(target: str):  # noqa: ANN202
    module, name = target.split(':')
    return getattr(importlib.import_module(module), name)


def _group(name: str) -> typer.Typer:
    group: typer.Typer = _load(GROUPS[name])
    present = {info.name for info in group.registered_commands}
    for command, target in GROUP_EXTRAS.get(name, {}).items():
        if command not in present:  # (a process may build the app more than once: tests do)
            group.command(command)(_load(target))
    return group


def build(only: str | None = None) -> typer.Typer:
    """The `runboard` app: every group and command, or only the one named `only` (with the root's options)."""
    built = typer.Typer(
        name='runboard',
        no_args_is_help=True,
        rich_markup_mode='rich',
        help='Runboard: trigger, watch and retry pipeline and coding-agent runs on git projects.\n\n'
        'Talks to the server at --server / RUNBOARD_SERVER (default http://127.0.0.1:8080) with the token in '
        'RUNBOARD_TOKEN, or the one local mode saved in the data directory.',
        epilog='Exit codes: 0 ok, 1 followed run did not succeed (or a webhook test not delivered), 2 usage, '
        '3 refused (rate limit or lock), 4 not found or forbidden, 5 server unreachable, 130 interrupted (Ctrl-C), '
        '141 the reader of the output went away (| head).',
    )
    built.callback()(root)
    for name in GROUPS:
        if only in (None, name):
            built.add_typer(_group(name), name=name)
    for name, target in COMMANDS.items():
        if only in (None, name):
            built.command(name)(_load(target))
    one_line_summaries(built)
    help_when_bare(built)
    return built


def named_command(args: list[str]) -> str | None:
    """Pure: the group or command the arguments name, when the app need hold it alone; '' when they ask the root
    alone (--version); None for the whole app (no command, root help, or a word it does not know, so that click
    answers as it does)."""
    words = iter(args)
    for word in words:
        if word == '--help':
            return None
        if word == '--version':  # eager: answered before any command is looked for
            return ''
        if word == '--server':
            next(words, None)
        elif not word.startswith('-'):
            return word if word in GROUPS or word in COMMANDS else None
    return None


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)

        try:
            typer.echo(f'runboard {version("runboard")}')
        except PackageNotFoundError:
            typer.echo('runboard (not installed)')
        raise typer.Exit()


def root(
    _version_flag: Annotated[
        Optional[bool], typer.Option('--version', callback=_version, is_eager=True, help='Print the version and exit.')
    ] = None,
    server: RootServerOpt = None,  # noqa: ARG001 - read by each command's own --server (app/cli/context.py)
) -> None:
    """Runboard command line."""


def main() -> None:
    only = None if os.environ.get(COMPLETION_VARIABLE) else named_command(sys.argv[1:])
    build(only)()


def __getattr__(name: str) -> typer.Typer:
    """`app`, the whole app, built when first asked for (tests and docs read it; `main` builds what it runs)."""
    if name == 'app':
        globals()['app'] = whole = build()
        return whole
    raise AttributeError(name)


if __name__ == '__main__':
    main()
