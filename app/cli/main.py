"""The `runboard` command line: a typer app on app/client/__init__.py (the same HTTP API the UI uses).

Exit codes: 0 ok; 1 a followed run did not succeed; 2 usage; 3 refused (429/409); 4 not found or
forbidden; 5 server unreachable; 141 the reader of stdout went away (`| head`). See app/cli/policy.py.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from app.cli.admin import db_app, serve, users_app, worker
from app.cli.afk import afk_app
from app.cli.audit import audit
from app.cli.batch import show_batch
from app.cli.context import RootServerOpt
from app.cli.help_types import help_when_bare, one_line_summaries
from app.cli.help_types import install as install_help_types
from app.cli.issues import issues_app
from app.cli.notifications import notifications_app
from app.cli.open_link import open_ui
from app.cli.people import users_list, users_remove, users_role
from app.cli.projects import projects_app
from app.cli.quota import quota
from app.cli.runs import runs_app
from app.cli.schedules import schedules_app
from app.cli.status import status
from app.cli.tokens import tokens_app, users_revoke
from app.cli.variables import secrets_app, variables_app
from app.cli.workers import workers_app

install_help_types()  # no <bool>, <str> or <list[str]> in --help
app = typer.Typer(
    name='runboard',
    no_args_is_help=True,
    rich_markup_mode='rich',
    help='Runboard: trigger, watch and retry pipeline and coding-agent runs on git projects.\n\n'
    'Talks to the server at --server / RUNBOARD_SERVER (default http://127.0.0.1:8080) with the token in '
    'RUNBOARD_TOKEN, or the one local mode saved in the data directory.',
    epilog='Exit codes: 0 ok, 1 followed run did not succeed, 2 usage, 3 refused (rate limit or lock), '
    '4 not found or forbidden, 5 server unreachable, 141 the reader of the output went away (| head).',
)
app.add_typer(runs_app, name='runs')
runs_app.command('batch')(show_batch)  # a matrix batch: runs trigger --matrix makes one
app.add_typer(projects_app, name='projects')
app.add_typer(schedules_app, name='schedules')
app.add_typer(issues_app, name='issues')
app.add_typer(afk_app, name='afk')
app.add_typer(notifications_app, name='notifications')
app.add_typer(db_app, name='db')
app.add_typer(users_app, name='users')
users_app.command('list')(users_list)
users_app.command('role')(users_role)
users_app.command('remove')(users_remove)
users_app.command('revoke')(users_revoke)
app.add_typer(tokens_app, name='tokens')
app.add_typer(secrets_app, name='secrets')
app.add_typer(variables_app, name='variables')
app.add_typer(workers_app, name='workers')
app.command('quota')(quota)
app.command('status')(status)
app.command('audit')(audit)
app.command('serve')(serve)
app.command('open')(open_ui)
app.command('worker')(worker)
one_line_summaries(app)
help_when_bare(app)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)

        try:
            typer.echo(f'runboard {version("runboard")}')
        except PackageNotFoundError:
            typer.echo('runboard (not installed)')
        raise typer.Exit()


@app.callback()
def root(
    _version_flag: Annotated[
        Optional[bool], typer.Option('--version', callback=_version, is_eager=True, help='Print the version and exit.')
    ] = None,
    server: RootServerOpt = None,  # noqa: ARG001 - read by each command's own --server (app/cli/context.py)
) -> None:
    """Runboard command line."""


def main() -> None:
    app()


if __name__ == '__main__':
    main()
