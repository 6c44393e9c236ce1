"""`runboard issues list|add`: a project's backlog, which the AFK auto-loop works through."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from app.cli import render
from app.cli.context import Cli, JsonOpt, ProjectArgument, ProjectOption, ServerOpt, chosen_project
from app.cli.projects import csv_list

issues_app = typer.Typer(help="A project's issues, the backlog the AFK auto-loop works through.", no_args_is_help=True)


@issues_app.command('list')
def issues_list(
    project_argument: ProjectArgument = None,
    project_option: ProjectOption = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """List a project's issues and which are ready for the auto-loop."""
    project = chosen_project(project_argument, project_option)
    Cli.make(server, json_output).show(
        lambda client: client.list_issues(project), lambda items: render.issues_table(items) if items else 'No issues.'
    )


@issues_app.command('add')
def issues_add(
    title: Annotated[str, typer.Option('--title', '-t', help='Issue title.')],
    body: Annotated[Optional[str], typer.Option('--body', help='Issue text.')] = None,
    labels: Annotated[
        Optional[list[str]],
        typer.Option(
            '--label',
            '-l',
            metavar='LABEL',
            help='A label (repeat for several); ready-for-agent makes it eligible for the auto-loop.',
        ),
    ] = None,
    project_argument: ProjectArgument = None,
    project_option: ProjectOption = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Add an issue to a project's local backlog."""
    project = chosen_project(project_argument, project_option)
    payload: dict = {'title': title}
    if body is not None:
        payload['body'] = body
    if labels:
        payload['labels'] = [part for label in labels for part in csv_list(label) or []]
    Cli.make(server, json_output).show(
        lambda client: client.add_issue(project, payload),
        lambda item: f'Issue [bold]#{item["number"]}[/] added to {project}: {render.escape(item["title"])}',
    )
