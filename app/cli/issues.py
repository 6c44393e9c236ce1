"""`runboard issues list|add|requeue|discard`: a project's backlog, which the AFK auto-loop works through."""

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


IssueNumber = Annotated[int, typer.Argument(metavar='NUMBER', help='The issue number.', show_default=False)]
RequiredProject = Annotated[str, typer.Argument(metavar='PROJECT', help='Project id.', show_default=False)]


@issues_app.command('requeue')
def issues_requeue(
    project: RequiredProject, number: IssueNumber, json_output: JsonOpt = False, server: ServerOpt = None
) -> None:
    """Make an issue ready for the auto-loop again: a parked one (its AFK run failed or was stopped), or one still
    open whose AFK run is done (a forge's pull request closed unmerged) or that was discarded."""
    Cli.make(server, json_output).show(
        lambda client: client.requeue_issue(project, number),
        lambda item: f'Issue [bold]#{number}[/] of {project} requeued: the auto-loop may take it again.',
    )


@issues_app.command('discard')
def issues_discard(
    project: RequiredProject, number: IssueNumber, json_output: JsonOpt = False, server: ServerOpt = None
) -> None:
    """Drop a parked issue from the auto-loop (it stays in the backlog; requeue brings it back)."""
    Cli.make(server, json_output).show(
        lambda client: client.discard_issue(project, number),
        lambda item: f'Issue [bold]#{number}[/] of {project} discarded: the auto-loop passes it over.',
    )
