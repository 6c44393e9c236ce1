"""`runboard projects ...`, `runboard issues ...`, `runboard afk ...` and `runboard quota`."""
from __future__ import annotations

import shlex
from typing import Annotated, Optional

import typer

from app import cli_render as render
from app.cli_context import Cli, JsonOpt, ServerOpt
from app.cli_runs import FollowOpt, ProjectOpt, complete_project, follow_and_print
from app.cli_policy import Exit, exit_code_for_outcome
from app.client import RunboardClient

projects_app = typer.Typer(help='See and configure projects (changes need the operator role).',
                           no_args_is_help=True)
issues_app = typer.Typer(help='A project\'s issues, the backlog the AFK auto-loop works through.',
                         no_args_is_help=True)
afk_app = typer.Typer(help='The AFK auto-loop: it runs a project\'s ready-for-agent issues on its own and pauses '
                      'itself after repeated failures.', no_args_is_help=True)

ProjectArg = Annotated[str, typer.Argument(metavar='PROJECT', help='Project id.', autocompletion=complete_project)]


def _csv(value: str | None) -> list[str] | None:
    return None if value is None else [part.strip() for part in value.split(',') if part.strip()]


def _argv(value: str | None) -> list[str] | None:
    """The command is an argv list; the option takes it as one shell-quoted line and splits it (no shell runs)."""
    if value is None:
        return None
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint='--command') from exc
    if not argv:
        raise typer.BadParameter('must not be empty', param_hint='--command')
    return argv


NameOpt = Annotated[Optional[str], typer.Option('--name', help='Display name.')]
RepoOpt = Annotated[Optional[str], typer.Option('--repository', '-r', help='Local path or clone URL.')]
BaseOpt = Annotated[Optional[str], typer.Option('--base-branch', help='Default branch.')]
CommandOpt = Annotated[Optional[str], typer.Option(
    '--command', '-c', help='What a run executes, as one quoted line split into arguments '
    '(e.g. "python ci.py --fast"); never run through a shell.')]
DepthsOpt = Annotated[Optional[str], typer.Option('--depth-levels', help='Allowed depth levels, comma-separated.')]
FrameworksOpt = Annotated[Optional[str], typer.Option('--frameworks', help='Allowed target frameworks, '
                                                      'comma-separated.')]
MaxOpt = Annotated[Optional[int], typer.Option('--max-concurrent', min=1, help='Active runs allowed per '
                                               'repository.')]
BudgetOpt = Annotated[Optional[int], typer.Option('--budget', min=1, metavar='SECONDS',
                                                  help='Run budget; a run past it is stopped as timed_out.')]


def _project_fields(name, repository, base_branch, command, depth_levels, frameworks, max_concurrent,  # noqa: ANN001
                    budget) -> dict:  # noqa: ANN001
    fields = {'name': name, 'repository': repository, 'base_branch': base_branch, 'command': _argv(command),
              'depth_levels': _csv(depth_levels), 'target_frameworks': _csv(frameworks),
              'max_concurrent_runs': max_concurrent, 'run_budget_seconds': budget}
    return {k: v for k, v in fields.items() if v is not None}


# ------------------------------------------------------------------ projects
@projects_app.command('list')
def projects_list(json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """List the projects you can see."""
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> None:
        items = await client.list_projects()
        if cli.json:
            cli.print_json(items)
        else:
            cli.out.print(render.projects_table(items) if items else 'No projects.')
    cli.execute(work)


@projects_app.command('show')
def projects_show(project: ProjectArg, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Show one project's configuration and auto-loop state."""
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> None:
        item = await client.get_project(project)
        if cli.json:
            cli.print_json(item)
        else:
            cli.out.print(render.project_details(item))
    cli.execute(work)


@projects_app.command('add')
def projects_add(project_id: Annotated[str, typer.Option('--id', help='Slug id: lowercase letters, digits, dashes.')],
                 repository: Annotated[str, typer.Option('--repository', '-r', help='Local path or clone URL.')],
                 command: Annotated[str, typer.Option('--command', '-c', help='What a run executes, as one quoted '
                                                      'line split into arguments; never run through a shell.')],
                 name: NameOpt = None, base_branch: Annotated[str, typer.Option(
                     '--base-branch', help='Default branch.')] = 'main',
                 depth_levels: DepthsOpt = None, frameworks: FrameworksOpt = None, max_concurrent: MaxOpt = None,
                 budget: BudgetOpt = None, team: Annotated[Optional[str], typer.Option(
                     '--team', help='Team that owns it (default: your first team).')] = None,
                 json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Add a project (the repository must be reachable and have the base branch)."""
    cli = Cli.make(server, json_output)
    body = {'id': project_id, 'name': name or project_id,
            **_project_fields(None, repository, base_branch, command, depth_levels, frameworks, max_concurrent,
                              budget)}
    if team:
        body['team_id'] = team

    async def work(client: RunboardClient) -> None:
        item = await client.create_project(body)
        if cli.json:
            cli.print_json(item)
        else:
            cli.out.print(f'Project [bold]{item["id"]}[/] added.')
            cli.out.print(render.project_details(item))
    cli.execute(work)


@projects_app.command('edit')
def projects_edit(project: ProjectArg, name: NameOpt = None, repository: RepoOpt = None, base_branch: BaseOpt = None,
                  command: CommandOpt = None, depth_levels: DepthsOpt = None, frameworks: FrameworksOpt = None,
                  max_concurrent: MaxOpt = None, budget: BudgetOpt = None,
                  json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Change a project; only the options given change."""
    cli = Cli.make(server, json_output)
    changes = _project_fields(name, repository, base_branch, command, depth_levels, frameworks, max_concurrent,
                              budget)
    if not changes:
        raise typer.BadParameter('give at least one option to change (see --help)')

    async def work(client: RunboardClient) -> None:
        item = await client.update_project(project, changes)
        if cli.json:
            cli.print_json(item)
        else:
            cli.out.print(f'Project [bold]{item["id"]}[/] updated: {", ".join(sorted(changes))}.')
    cli.execute(work)


# ------------------------------------------------------------------ issues
@issues_app.command('list')
def issues_list(project: ProjectOpt, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """List a project's issues and which are ready for the auto-loop."""
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> None:
        items = await client.list_issues(project)
        if cli.json:
            cli.print_json(items)
        else:
            cli.out.print(render.issues_table(items) if items else 'No issues.')
    cli.execute(work)


@issues_app.command('add')
def issues_add(project: ProjectOpt,
               title: Annotated[str, typer.Option('--title', '-t', help='Issue title.')],
               body: Annotated[Optional[str], typer.Option('--body', help='Issue text.')] = None,
               labels: Annotated[Optional[list[str]], typer.Option(
                   '--label', '-l', help='A label (repeat for more); ready-for-agent makes it eligible for the '
                   'auto-loop.')] = None,
               json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Add an issue to a project's local backlog."""
    cli = Cli.make(server, json_output)
    payload: dict = {'title': title}
    if body is not None:
        payload['body'] = body
    if labels:
        payload['labels'] = [part for label in labels for part in _csv(label) or []]

    async def work(client: RunboardClient) -> None:
        item = await client.add_issue(project, payload)
        if cli.json:
            cli.print_json(item)
        else:
            cli.out.print(f'Issue [bold]#{item["number"]}[/] added to {project}: {render.escape(item["title"])}')
    cli.execute(work)


# ------------------------------------------------------------------ AFK auto-loop
def _afk_switch(project: str, enabled: bool, json_output: bool, server: str | None) -> None:
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> None:
        item = await client.set_auto(project, enabled)
        if cli.json:
            cli.print_json(item)
        else:
            cli.out.print(f'Auto-loop {"on" if enabled else "off"} for [bold]{project}[/].')
            cli.out.print(render.afk_status(item))
    cli.execute(work)


@afk_app.command('on')
def afk_on(project: ProjectOpt, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Switch the auto-loop on: it starts runs for ready issues by itself."""
    _afk_switch(project, True, json_output, server)


@afk_app.command('off')
def afk_off(project: ProjectOpt, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Switch the auto-loop off (runs already started continue)."""
    _afk_switch(project, False, json_output, server)


@afk_app.command('start')
def afk_start(project: ProjectOpt, follow: FollowOpt = False, json_output: JsonOpt = False,
              server: ServerOpt = None) -> None:
    """Start one auto run now, on the next ready issue (exit 3 when no issue is ready)."""
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> int:
        run = await client.start_afk(project)
        if not follow:
            if cli.json:
                cli.print_json(run)
            else:
                cli.out.print(f'Auto run [bold]{run["id"]}[/] started for issue #{run.get("issue_number")} '
                              f'{render.escape(run.get("issue_title") or "")}'.rstrip() + '.')
            return Exit.OK
        if not cli.json:
            cli.out.print(f'Auto run [bold]{run["id"]}[/] for issue #{run.get("issue_number")}')
        final = await follow_and_print(cli, client, run['id'], json_lines=False)
        if cli.json:
            cli.print_json(final)
        return exit_code_for_outcome(final['status'])
    cli.execute(work)


@afk_app.command('reset')
def afk_reset(project: ProjectOpt, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Clear the failure counter of a paused project so the auto-loop may run again."""
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> None:
        item = await client.reset_afk(project)
        if cli.json:
            cli.print_json(item)
        else:
            cli.out.print(f'Failure counter reset for [bold]{project}[/].')
            cli.out.print(render.afk_status(item))
    cli.execute(work)


@afk_app.command('status')
def afk_status(project: ProjectOpt, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Show whether the auto-loop is on, paused, and how many issues are ready."""
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> None:
        item = await client.get_project(project)
        if cli.json:
            cli.print_json(item)
        else:
            cli.out.print(render.afk_status(item))
    cli.execute(work)


# ------------------------------------------------------------------ quota
def quota(json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Show how many runs you may still start in the current rate-limit window."""
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> None:
        item = await client.quota()
        if cli.json:
            cli.print_json(item)
        else:
            cli.out.print(render.quota_table(item))
    cli.execute(work)
