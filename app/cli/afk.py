"""`runboard afk on|off|start|reset|status|summary`: the AFK auto-loop of a project."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Group

from app.cli import render
from app.cli.context import Cli, JsonOpt, ProjectArgument, ProjectOption, ServerOpt, chosen_project
from app.cli.policy import Exit, exit_code_for_outcome
from app.cli.run_flow import follow_and_print
from app.cli.runs import FollowOpt
from app.cli.when import since_value
from app.client import RunboardClient

afk_app = typer.Typer(
    help="The AFK auto-loop: it runs a project's ready-for-agent issues on its own and pauses "
    'itself after repeated failures.',
    no_args_is_help=True,
)


def _afk_switch(project: str, enabled: bool, json_output: bool, server: str | None) -> None:
    Cli.make(server, json_output).show(
        lambda client: client.set_auto(project, enabled),
        lambda item: Group(f'Auto-loop {"on" if enabled else "off"} for [bold]{project}[/].', render.afk_status(item)),
    )


@afk_app.command('on')
def afk_on(
    project_argument: ProjectArgument = None,
    project_option: ProjectOption = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Switch the auto-loop on: it starts runs for ready issues by itself."""
    _afk_switch(chosen_project(project_argument, project_option), True, json_output, server)


@afk_app.command('off')
def afk_off(
    project_argument: ProjectArgument = None,
    project_option: ProjectOption = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Switch the auto-loop off (runs already started continue)."""
    _afk_switch(chosen_project(project_argument, project_option), False, json_output, server)


@afk_app.command('start')
def afk_start(
    project_argument: ProjectArgument = None,
    project_option: ProjectOption = None,
    follow: FollowOpt = False,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Start one auto run now, on the next ready issue (exit 3 when no issue is ready)."""
    project = chosen_project(project_argument, project_option)
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> int:
        run = await client.start_afk(project)
        if not follow:
            if cli.json:
                cli.print_json(run)
            else:
                cli.out.print(
                    f'Auto run [bold]{run["id"]}[/] started for issue #{run.get("issue_number")} '
                    f'{render.escape(render.one_line(run.get("issue_title") or ""))}'.rstrip()
                    + '.'
                )
            return Exit.OK
        if not cli.json:
            cli.out.print(f'Auto run [bold]{run["id"]}[/] for issue #{run.get("issue_number")}')
        final = await follow_and_print(cli, client, run['id'], json_lines=False)
        if cli.json:
            cli.print_json(final)
        return exit_code_for_outcome(final['status'])

    cli.execute(work)


@afk_app.command('reset')
def afk_reset(
    project_argument: ProjectArgument = None,
    project_option: ProjectOption = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Clear the failure counter of a paused project so the auto-loop may run again."""
    project = chosen_project(project_argument, project_option)
    Cli.make(server, json_output).show(
        lambda client: client.reset_afk(project),
        lambda item: Group(f'Failure counter reset for [bold]{project}[/].', render.afk_status(item)),
    )


@afk_app.command('status')
def afk_status(
    project_argument: ProjectArgument = None,
    project_option: ProjectOption = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Show whether the auto-loop is on, paused, and how many issues are ready."""
    project = chosen_project(project_argument, project_option)
    Cli.make(server, json_output).show(lambda client: client.get_project(project), render.afk_status)


SinceOpt = Annotated[
    str | None,
    typer.Option(
        '--since',
        metavar='12h|TIME',
        help="From when: a duration back from now (12h, 90m, 2d) or a time (2026-05-11T22:00, in this terminal's "
        'zone unless it names an offset). Default: the last 24 hours.',
    ),
]


@afk_app.command('summary')
def afk_summary(
    project_argument: ProjectArgument = None,
    project_option: ProjectOption = None,
    since: SinceOpt = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """What the auto-loop did since a moment: its runs per issue with their outcome and cost, the cost against the
    daily cap, when it paused or reached the cap, where it stands now, and the ready issues it has not tried."""
    project = chosen_project(project_argument, project_option)
    asked = since_value(since, datetime.now().astimezone()) if since else None
    Cli.make(server, json_output).show(lambda client: client.afk_summary(project, since=asked), render.afk_summary)
