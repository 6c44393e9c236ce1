"""`runboard secrets set|list|remove` and `runboard variables set|list|remove`: what a project's runs receive
in their environment. A secret's value is read from stdin (argv is visible to every user of the machine, and
shell history keeps it); a variable's may be given as an argument."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from rich.table import Table

from app.cli.context import Cli, JsonOpt, ProjectArgument, ProjectOption, ServerOpt, chosen_project, given_id

ProjectOpt = Annotated[str, typer.Option('--project', '-p', help='The project id.', callback=given_id)]
NameArg = Annotated[
    str, typer.Argument(metavar='NAME', help='The environment variable name, e.g. DEPLOY_TOKEN.', callback=given_id)
]


def _table(kind: str):  # noqa: ANN202
    def render(items: list[dict]) -> Table | str:
        if not items:
            return f'No {kind}.'
        headers = ['Name', 'Value'] if kind == 'variables' else ['Name']
        table = Table(*headers, 'Protected', 'Set by', 'Updated')
        for item in items:
            shown = [item['name'], item['value']] if kind == 'variables' else [item['name']]
            table.add_row(
                *shown,
                'yes' if item.get('protected') else '',
                item.get('set_by') or '',
                str(item['updated_at'])[:19].replace('T', ' '),
            )
        return table

    return render


# each group's own: `variables set --help` once told how to set a secret
LIST_HELP = {
    'secrets': "List them: names, who set them and when (a secret's value is never shown).",
    'variables': 'List them with their values, who set them and when.',
}
SET_HELP = {
    'secrets': 'Set one (creates or replaces). Its value is read from stdin, never the command line: '
    '`runboard secrets set DEPLOY_TOKEN -p PROJECT < token.txt`.',
    'variables': 'Set one (creates or replaces): `runboard variables set REGION eu-west-1 -p PROJECT`; without '
    'VALUE, it is read from stdin.',
}


def _value_from_stdin() -> str:
    if sys.stdin.isatty():
        typer.echo('Value (then Enter):', err=True)
    value = sys.stdin.read() if not sys.stdin.isatty() else sys.stdin.readline()
    value = value[:-1] if value.endswith('\n') else value
    if not value:
        raise typer.BadParameter('no value on stdin')
    return value


def _app(kind: str, noun: str) -> typer.Typer:
    group = typer.Typer(help=f"A project's {kind}: what its runs receive in their environment.", no_args_is_help=True)

    @group.command('list', help=LIST_HELP[kind])
    def list_(
        project_argument: ProjectArgument = None,
        project_option: ProjectOption = None,
        json_output: JsonOpt = False,
        server: ServerOpt = None,
    ) -> None:
        project = chosen_project(project_argument, project_option)
        Cli.make(server, json_output).show(lambda client: client.list_variables(project, kind), _table(kind))

    @group.command('set', help=SET_HELP[kind])
    def set_(
        name: NameArg,
        project: ProjectOpt,
        value: Annotated[
            Optional[str],
            typer.Argument(
                metavar='VALUE',
                help='The value (variables only; a secret is always read from stdin).',
                show_default=False,
            ),
        ] = None,
        protected: Annotated[
            Optional[bool],
            typer.Option(
                '--protected/--unprotected',
                help="Given only to runs of the project's protected branches (default: as it was; a new one: not).",
            ),
        ] = None,
        json_output: JsonOpt = False,
        server: ServerOpt = None,
    ) -> None:
        if kind == 'secrets' and value is not None:
            raise typer.BadParameter('a secret is read from stdin, never from the command line', param_hint='VALUE')
        text = value if value is not None else _value_from_stdin()
        Cli.make(server, json_output).show(
            lambda client: client.set_variable(project, kind, name, text, protected=protected),
            lambda answer: (
                f'Set {"protected " if answer.get("protected") else ""}{noun} {answer["name"]} of {project}.'
            ),
        )

    @group.command('remove')
    def remove(name: NameArg, project: ProjectOpt, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
        """Remove one; runs admitted from now on do not receive it."""
        Cli.make(server, json_output).show(
            lambda client: client.remove_variable(project, kind, name), lambda _: f'Removed {noun} {name} of {project}.'
        )

    return group


secrets_app = _app('secrets', 'secret')
variables_app = _app('variables', 'variable')
