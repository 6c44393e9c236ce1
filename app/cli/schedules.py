"""`runboard schedules list|add|edit|pause|resume|remove|history`: a project's cron schedules and their firings
(the rules: docs/triggers.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Optional

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from app.cli import render
from app.cli.context import (
    Cli,
    JsonOpt,
    ProjectArgument,
    ProjectOption,
    ServerOpt,
    chosen_project,
    complete_project,
    given_id,
    if_version_option,
    parse_vars,
    var_option,
    with_version,
)
from app.cli.run_defaults import BranchOpt, DepthOpt, FrameworkOpt, defaults_for
from app.client import RunboardClient

schedules_app = typer.Typer(help='Cron schedules of a project: runs fired at set times.', no_args_is_help=True)
OwnerOpt = Annotated[  # a schedule id is unique: its project is found from it when not given
    Optional[str],
    typer.Option(
        '--project',
        '-p',
        metavar='PROJECT',
        help="The schedule's project (optional: found from the schedule id).",
        autocompletion=complete_project,
    ),
]
VarOpt = Annotated[Optional[list[str]], var_option('each run it fires')]
ScheduleArg = Annotated[
    str, typer.Argument(metavar='SCHEDULE_ID', help='The schedule, e.g. sch_01JD...', callback=given_id)
]
FIRING_STYLE = {'admitted': 'green', 'skipped': 'yellow', 'missed': 'bright_black', 'pending': 'cyan'}


def on_schedule(
    project: str | None, schedule_id: str, call: Callable[[RunboardClient, str], Awaitable[Any]]
) -> Callable[[RunboardClient], Awaitable[Any]]:
    """`call(client, project)` with the schedule's project: the one given, else the one GET /schedules/{id} names."""

    async def fetch(client: RunboardClient) -> Any:
        owner = project or (await client.find_schedule(schedule_id))['project_id']
        return await call(client, owner)

    return fetch


def schedules_table(items: list[dict]) -> Table | str:
    if not items:
        return 'No schedules. Add one: runboard schedules add PROJECT --name nightly --cron "30 2 * * *" ...'
    table = Table(header_style='bold', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for column in ('SCHEDULE', 'NAME', 'CRON', 'RUNS', 'NEXT', 'LAST FIRING'):
        # as runs list: crop (…), never break a row; the owner and catch-up policy are in --json and the UI
        table.add_column(column, no_wrap=True, min_width=20 if column == 'LAST FIRING' else None)
    for s in items:
        last = s.get('last_firing')
        table.add_row(
            s['id'],
            Text(s['name']),
            f'{s["cron"]} ({s["timezone"]})',
            runs_text(s),
            Text('paused', style='yellow') if s['paused'] else render.when(s.get('next_fire_at')),
            firing_text(last, with_run=False) if last else Text('none yet', style='dim'),
        )
    return table


def runs_text(schedule: dict) -> Text:
    """main shallow/python, and the names of its variables (their values: `--json`, the UI)."""
    text = Text(f'{schedule["branch"]} {schedule["depth_level"]}/{schedule["target_framework"]}')
    if schedule.get('variables'):
        text.append(' with ' + ', '.join(schedule['variables']), style='dim')
    return text


def firing_text(firing: dict, *, with_run: bool = True) -> Text:
    """admitted run_01… (succeeded) | skipped: pr_lock | missed: Missed … (catch-up: skip). The list leaves
    the run id to `history` (it would crowd the table): admitted (succeeded)."""
    state = firing['state']
    text = Text(state, style=FIRING_STYLE.get(state, ''))
    if firing.get('run_id') and not with_run:
        text.append(f' ({firing["run_status"]})' if firing.get('run_status') else '')
    elif firing.get('run_id'):
        text.append(f' {firing["run_id"]}' + (f' ({firing["run_status"]})' if firing.get('run_status') else ''))
    elif firing.get('reason') and state != 'missed':
        text.append(f': {firing["reason"]}')
    if firing.get('late'):
        text.append(' (late: catch-up)', style='dim')
    return text


def firings_table(items: list[dict]) -> Table | str:
    if not items:
        return 'No firings yet.'
    table = Table(header_style='bold', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for column in ('SLOT', 'OUTCOME', 'DETAIL'):
        table.add_column(column, no_wrap=column == 'SLOT')
    for firing in items:
        table.add_row(render.when(firing['slot']), firing_text(firing), Text(firing.get('detail') or ''))
    return table


def one(schedule: dict, said: str, *, edit_version: bool = False) -> str:
    """`edit_version`: the line ends with the schedule's (an edit's: what the next --if-version names)."""
    head = f'Schedule [bold]{schedule["id"]}[/] ({render.escape(schedule["name"])}) {said}'
    if schedule['paused']:
        line = head + ('.' if said == 'paused' else ': paused.')
    else:
        line = f'{head}: next {render.when(schedule.get("next_fire_at"))}.'
    return f'{line[:-1]} (edit version {schedule["edit_version"]}).' if edit_version else line


@schedules_app.command('list')
def schedules_list(
    project_argument: ProjectArgument = None,
    project_option: ProjectOption = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """The project's schedules: cron, the run they fire, the catch-up policy, the next and the last firing."""
    project = chosen_project(project_argument, project_option)
    Cli.make(server, json_output).show(lambda client: client.list_schedules(project), schedules_table)


@schedules_app.command('add')
def schedules_add(
    name: Annotated[str, typer.Option('--name', '-n', help='A name for it, unique in the project (e.g. nightly).')],
    cron: Annotated[
        str,
        typer.Option(
            '--cron', help='Five fields: minute hour day-of-month month day-of-week ("30 2 * * *"), or @daily.'
        ),
    ],
    branch: BranchOpt = None,
    depth: DepthOpt = None,
    framework: FrameworkOpt = None,
    tz: Annotated[str, typer.Option('--tz', help='IANA time zone the cron is read in (e.g. Europe/Berlin).')] = 'UTC',
    catch_up: Annotated[
        str,
        typer.Option(
            '--catch-up', help='Slots missed while no server ran: once (one run for the latest) or skip (none).'
        ),
    ] = 'once',
    paused: Annotated[bool, typer.Option('--paused', help='Create it paused.')] = False,
    var: VarOpt = None,
    project_argument: ProjectArgument = None,
    project_option: ProjectOption = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Add a schedule (operators). Its runs are admitted as you, under every rule a trigger meets; what you leave
    out of branch, depth and framework is chosen as `runs trigger` chooses it."""
    project = chosen_project(project_argument, project_option)
    variables = parse_vars(var)

    async def add(client: RunboardClient) -> Any:
        defaults = await defaults_for(client, project, branch, depth, framework)
        body = {
            'name': name,
            'cron': cron,
            'timezone': tz,
            'branch': branch or defaults['branch'],
            'depth_level': depth or defaults['depth_level'],
            'target_framework': framework or defaults['target_framework'],
            'catch_up': catch_up,
            'paused': paused,
            'variables': variables,
        }
        return await client.create_schedule(project, body)

    Cli.make(server, json_output).show(add, lambda s: one(s, 'added'))


@schedules_app.command('edit')
def schedules_edit(
    schedule_id: ScheduleArg,
    project: OwnerOpt = None,
    name: Annotated[Optional[str], typer.Option('--name', '-n', help='A new name.')] = None,
    cron: Annotated[Optional[str], typer.Option('--cron', help='A new cron expression (applies from now).')] = None,
    tz: Annotated[Optional[str], typer.Option('--tz', help='A new time zone.')] = None,
    branch: Annotated[Optional[str], typer.Option('--branch', '-b')] = None,
    depth: Annotated[Optional[str], typer.Option('--depth', '-d')] = None,
    framework: Annotated[Optional[str], typer.Option('--framework', '-f')] = None,
    catch_up: Annotated[Optional[str], typer.Option('--catch-up', help='once or skip.')] = None,
    var: Annotated[
        Optional[list[str]],
        typer.Option(
            '--var',
            metavar='NAME=VALUE',
            help="The runs' variables, replacing the ones it has (repeat it for more).",
        ),
    ] = None,
    clear_vars: Annotated[bool, typer.Option('--clear-vars', help='Remove all its variables.')] = False,
    if_version: Annotated[Optional[int], if_version_option('edit_version', 'schedules list PROJECT --json')] = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Change a schedule (operators); what you leave out stays. With --if-version, the change is refused (exit 3)
    when another operator edited the schedule since that version, instead of the last save winning."""
    fields = {
        'name': name,
        'cron': cron,
        'timezone': tz,
        'branch': branch,
        'depth_level': depth,
        'target_framework': framework,
        'catch_up': catch_up,
    }
    body: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    if var and clear_vars:
        raise typer.BadParameter('give --var or --clear-vars, not both', param_hint='--clear-vars')
    if var or clear_vars:
        body['variables'] = parse_vars(var)
    if not body:
        raise typer.BadParameter('say what to change, e.g. --cron "0 3 * * *"', param_hint='--cron')
    body = with_version(body, if_version, 'edit_version')
    Cli.make(server, json_output).show(
        on_schedule(project, schedule_id, lambda client, owner: client.update_schedule(owner, schedule_id, body)),
        lambda s: one(s, 'changed', edit_version=True),
    )


@schedules_app.command('pause')
def schedules_pause(
    schedule_id: ScheduleArg, project: OwnerOpt = None, json_output: JsonOpt = False, server: ServerOpt = None
) -> None:
    """Stop a schedule firing until it is resumed (operators)."""
    Cli.make(server, json_output).show(
        on_schedule(project, schedule_id, lambda client, owner: client.pause_schedule(owner, schedule_id)),
        lambda s: one(s, 'paused'),
    )


@schedules_app.command('resume')
def schedules_resume(
    schedule_id: ScheduleArg, project: OwnerOpt = None, json_output: JsonOpt = False, server: ServerOpt = None
) -> None:
    """Fire again from the next slot (the slots while it was paused are not caught up; operators)."""
    Cli.make(server, json_output).show(
        on_schedule(
            project, schedule_id, lambda client, owner: client.pause_schedule(owner, schedule_id, paused=False)
        ),
        lambda s: one(s, 'resumed'),
    )


@schedules_app.command('remove')
def schedules_remove(
    schedule_id: ScheduleArg, project: OwnerOpt = None, json_output: JsonOpt = False, server: ServerOpt = None
) -> None:
    """Delete a schedule and its history (operators); the runs it made stay."""

    async def remove(client: RunboardClient) -> dict:
        await on_schedule(project, schedule_id, lambda c, owner: c.delete_schedule(owner, schedule_id))(client)
        return {'removed': schedule_id}

    Cli.make(server, json_output).show(remove, lambda answer: f'Schedule [bold]{answer["removed"]}[/] removed.')


FIRINGS_PAGE_MAX = 200  # the most firings the API answers at once


def firings_page(firings: list[dict], limit: int) -> tuple[list[dict], str | None]:
    """Pure: the firings to show of those asked for (one more than `limit`, to know whether there are more), and the
    `--before` of the next page, when there is one (a full page of the most the API answers may have more)."""
    shown = firings[:limit]
    more = len(firings) > limit or len(firings) == FIRINGS_PAGE_MAX
    return shown, (shown[-1]['slot'] if more and shown else None)


@schedules_app.command('history')
def schedules_history(
    schedule_id: ScheduleArg,
    project: OwnerOpt = None,
    limit: Annotated[int, typer.Option('--limit', '-n', min=1, max=FIRINGS_PAGE_MAX, help='At most this many.')] = 20,
    before: Annotated[
        Optional[str],
        typer.Option(
            '--before',
            metavar='SLOT',
            help='Only the firings before this slot (ISO 8601): the next page, as `More: --before SLOT` says.',
            callback=given_id,
        ),
    ] = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """A schedule's firings, newest first: the run it admitted, or why it was skipped or missed. A next page is said
    on stderr (`More: --before SLOT`), so piped stdout is the rows only."""
    cli = Cli.make(server, json_output)
    asked = min(limit + 1, FIRINGS_PAGE_MAX)

    async def work(client: RunboardClient) -> None:
        firings = await on_schedule(
            project, schedule_id, lambda c, owner: c.schedule_firings(owner, schedule_id, limit=asked, before=before)
        )(client)
        shown, next_before = firings_page(firings, limit)
        if cli.json:
            cli.print_json(shown)
        else:
            cli.out.print(firings_table(shown))
        if next_before:
            cli.err.print(f'[dim]More: --before {next_before}[/]')

    cli.execute(work)
