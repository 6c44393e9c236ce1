"""`runboard issues list|add|edit|requeue|discard`: a project's backlog, which the AFK auto-loop works through."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from app.cli import render
from app.cli.context import Cli, JsonOpt, ProjectArgument, ProjectOption, ServerOpt, chosen_project, given_id
from app.cli.projects import csv_list

BLOCKING_STATES = ('active', 'parked', 'done', 'discarded')  # a claim in one of these keeps an issue from the loop

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


def issue_changes(
    *, title: str | None, body: str | None, labels: list[str] | None, no_labels: bool, open_state: bool | None
) -> dict:
    """The PATCH body of `issues edit`: only what was given. Empty when nothing was (the caller says so)."""
    changes: dict = {}
    if title is not None:
        changes['title'] = title
    if body is not None:
        changes['body'] = body
    if labels is not None:
        changes['labels'] = [part for label in labels for part in csv_list(label) or []]
    if no_labels:
        changes['labels'] = []
    if open_state is not None:
        changes['state'] = 'open' if open_state else 'closed'
    return changes


def edited_text(project: str, issue: dict) -> str:
    """What `issues edit` says: the issue's state now, and when the change stopped an AFK run working on it."""
    claim = issue.get('claim') or {}
    if issue['state'] != 'open':
        readiness = ''
    elif issue['ready']:
        readiness = ', ready'
    else:  # the label is missing, or a claim (parked, done, discarded) holds it back
        readiness = f', not ready ({claim["state"]})' if claim.get('state') in BLOCKING_STATES else ', not ready'
    said = f'Issue [bold]#{issue["number"]}[/] of {project}: {issue["state"]}{readiness}'
    if claim.get('state') == 'released' and claim.get('cause', '').startswith(f'issue #{issue["number"]} was '):
        said += f'; its AFK run {claim["run_id"]} is stopped ({render.escape(claim["cause"])})'
    return said + '.'


IssueNumber = Annotated[int, typer.Argument(metavar='NUMBER', help='The issue number.', show_default=False)]
RequiredProject = Annotated[
    str, typer.Argument(metavar='PROJECT', help='Project id.', show_default=False, callback=given_id)
]


@issues_app.command('edit')
def issues_edit(
    project: RequiredProject,
    number: IssueNumber,
    title: Annotated[Optional[str], typer.Option('--title', '-t', help='New title.')] = None,
    body: Annotated[Optional[str], typer.Option('--body', help='New issue text.')] = None,
    labels: Annotated[
        Optional[list[str]],
        typer.Option(
            '--label',
            '-l',
            metavar='LABEL',
            help='The labels it has from now on (repeat for several); without ready-for-agent the loop leaves it.',
        ),
    ] = None,
    no_labels: Annotated[bool, typer.Option('--no-labels', help='Take every label off.')] = False,
    open_state: Annotated[
        Optional[bool], typer.Option('--reopen/--close', help='Reopen the issue, or close it.', show_default=False)
    ] = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Change an issue of a project's local backlog: its title, text, labels, or close or reopen it. Closing it, or
    taking ready-for-agent off, stops the AFK run working on it (no failure counted; docs/afk.md)."""
    if labels is not None and no_labels:
        raise typer.BadParameter('give --label or --no-labels, not both', param_hint='--no-labels')
    changes = issue_changes(title=title, body=body, labels=labels, no_labels=no_labels, open_state=open_state)
    if not changes:
        raise typer.BadParameter(
            'say what to change: --title, --body, --label, --no-labels, --close or --reopen', param_hint='options'
        )
    Cli.make(server, json_output).show(
        lambda client: client.update_issue(project, number, changes), lambda item: edited_text(project, item)
    )


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
