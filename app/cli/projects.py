"""`runboard projects list|show|tests|add|edit|hook-secret|badges|caches|refresh|history`."""

from __future__ import annotations

import shlex
from typing import Annotated, Any, Optional

import typer
from rich.console import Group

from app.cli import history_view, render
from app.cli.context import Cli, JsonOpt, ServerOpt, complete_project, given_id, if_version_option, with_version
from app.cli.credentials import (
    SshKeyOpt,
    TokenEnvOpt,
    TokenStdinOpt,
    UsernameOpt,
    credentials_from_options,
)
from app.state.project_form import parse_memory

projects_app = typer.Typer(help='See and configure projects (changes need the operator role).', no_args_is_help=True)

ProjectArg = Annotated[
    str, typer.Argument(metavar='PROJECT', help='Project id.', autocompletion=complete_project, callback=given_id)
]


def csv_list(value: str | None) -> list[str] | None:
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
CommandOpt = Annotated[
    Optional[str],
    typer.Option(
        '--command',
        '-c',
        help='What a run executes, as one quoted line split into arguments '
        '(e.g. "python ci.py --fast"); never run through a shell.',
    ),
]
DepthsOpt = Annotated[Optional[str], typer.Option('--depth-levels', help='Allowed depth levels, comma-separated.')]
FrameworksOpt = Annotated[
    Optional[str], typer.Option('--frameworks', help='Allowed target frameworks, comma-separated.')
]
MaxOpt = Annotated[Optional[int], typer.Option('--max-concurrent', min=1, help='Active runs allowed per repository.')]
RunsOnOpt = Annotated[
    Optional[str],
    typer.Option(
        '--runs-on',
        metavar='LABELS',
        help="Runner labels, comma-separated: its runs go only to workers holding all of them ('' for any worker).",
    ),
]
BudgetOpt = Annotated[
    Optional[int],
    typer.Option('--budget', min=1, metavar='SECONDS', help='Run budget; a run past it is stopped as timed_out.'),
]
QueuedTtlOpt = Annotated[
    Optional[int],
    typer.Option(
        '--queued-ttl', min=1, metavar='SECONDS', help='A run still queued this long ends expired (docs/triggers.md).'
    ),
]


OnPushOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        '--on-push',
        metavar='BRANCH',
        help="Run on a push to these branches: a name or glob (release/*, **), '!' excludes "
        '(repeat for several; docs/triggers.md).',
    ),
]
OnPushPathsOpt = Annotated[
    Optional[list[str]],
    typer.Option('--on-push-paths', metavar='GLOB', help='Only pushes changing these paths run (repeat for several).'),
]
OnPushDepthOpt = Annotated[Optional[str], typer.Option('--on-push-depth', help="A push run's depth level.")]
OnPushFrameworkOpt = Annotated[Optional[str], typer.Option('--on-push-framework', help="A push run's framework.")]
OnPushMatrixOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        '--on-push-matrix',
        metavar='AXIS=V1,V2',
        help='A push runs a matrix instead: depth=shallow,deep and framework=python,go (repeat per axis).',
    ),
]
OnPushPullsOpt = Annotated[
    Optional[bool],
    typer.Option('--on-push-pull-requests/--no-on-push-pull-requests', help='Also run pull requests.'),
]
CancelOpt = Annotated[
    Optional[bool],
    typer.Option(
        '--cancel-in-progress/--no-cancel-in-progress',
        help="A newer push cancels the branch's queued push runs (default on).",
    ),
]


def on_push_rules(current: dict[str, Any] | None, options: dict[str, Any]) -> dict[str, Any] | None:
    """The project's push rules after the --on-push* options (None: no such option was given): the stored rules
    with the given fields replaced. Pure, so tested without a server (tests/cli/test_push_options.py)."""
    given = {
        'branches': options.get('on_push'),
        'paths': options.get('on_push_paths'),
        'depth_level': options.get('on_push_depth'),
        'target_framework': options.get('on_push_framework'),
        'pull_requests': options.get('on_push_pull_requests'),
        'cancel_in_progress': options.get('cancel_in_progress'),
    }
    given = {k: v for k, v in given.items() if v is not None}
    matrix = options.get('on_push_matrix')
    if not given and not matrix:
        return None
    rules = {k: v for k, v in dict(current or {}).items() if v is not None}
    rules.update(given)
    if matrix:
        from app.cli.batch import parse_matrix  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)

        rules['matrix'] = parse_matrix(
            matrix, depth=options.get('on_push_depth'), framework=options.get('on_push_framework')
        )
        rules.pop('depth_level', None)
        rules.pop('target_framework', None)
    elif 'depth_level' in given or 'target_framework' in given:
        rules.pop('matrix', None)
    if not rules.get('branches'):
        raise typer.BadParameter('name the branches with --on-push (e.g. --on-push main)', param_hint='--on-push')
    return rules


def _project_fields(options: dict[str, Any]) -> dict[str, Any]:
    """The API fields of the project options a command was given (its locals()); unset ones are left out."""
    fields = {
        'name': options.get('name'),
        'repository': options.get('repository'),
        'base_branch': options.get('base_branch'),
        'command': _argv(options.get('command')),
        'depth_levels': csv_list(options.get('depth_levels')),
        'target_frameworks': csv_list(options.get('frameworks')),
        'max_concurrent_runs': options.get('max_concurrent'),
        'run_budget_seconds': options.get('budget'),
        'queued_ttl_seconds': options.get('queued_ttl'),
        'runs_on': None if options.get('runs_on') is None else [x for x in options['runs_on'].split(',') if x.strip()],
    }
    return {k: v for k, v in fields.items() if v is not None}


def _credentials(options: dict[str, Any]) -> dict[str, Any] | None:
    return credentials_from_options(
        token_env=options.get('token_env'),
        token_stdin=bool(options.get('token_stdin')),
        ssh_key_file=options.get('ssh_key_file'),
        username=options.get('username'),
    )


@projects_app.command('list')
def projects_list(json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """List the projects you can see."""
    Cli.make(server, json_output).show(
        lambda client: client.list_projects(), lambda items: render.projects_table(items) if items else 'No projects.'
    )


@projects_app.command('show')
def projects_show(project: ProjectArg, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Show one project's configuration and auto-loop state."""
    Cli.make(server, json_output).show(lambda client: client.get_project(project), render.project_details)


@projects_app.command('tests')
def projects_tests(
    project: ProjectArg,
    limit: Annotated[int, typer.Option('--limit', '-n', min=1, max=50, help='Failing tests shown.')] = 10,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """The base branch's coverage per run and the tests that failed lately, flakiest first."""
    Cli.make(server, json_output).show(lambda client: client.project_tests(project, limit=limit), render.project_tests)


@projects_app.command('add')
def projects_add(
    project_id: Annotated[str, typer.Option('--id', help='Slug id: lowercase letters, digits, dashes.')],
    repository: Annotated[str, typer.Option('--repository', '-r', help='Local path or clone URL.')],
    command: Annotated[
        str,
        typer.Option(
            '--command',
            '-c',
            help='What a run executes, as one quoted line split into arguments; never run through a shell.',
        ),
    ],
    name: NameOpt = None,
    base_branch: Annotated[str, typer.Option('--base-branch', help='Default branch.')] = 'main',
    depth_levels: DepthsOpt = None,
    frameworks: FrameworksOpt = None,
    max_concurrent: MaxOpt = None,
    budget: BudgetOpt = None,
    queued_ttl: QueuedTtlOpt = None,
    runs_on: RunsOnOpt = None,
    team: Annotated[Optional[str], typer.Option('--team', help='Team that owns it (default: your first team).')] = None,
    token_env: TokenEnvOpt = None,
    token_stdin: TokenStdinOpt = False,
    ssh_key_file: SshKeyOpt = None,
    username: UsernameOpt = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Add a project on a local path or a clone URL (https, ssh, git, file); the repository must be reachable
    and have the base branch. Credentials never go on the command line: --token-env VAR, --token-stdin or
    --ssh-key-file PATH; the server stores them encrypted and never shows them again."""
    options = locals()
    body = {**_project_fields(options), 'id': project_id, 'name': name or project_id}
    if team:
        body['team_id'] = team
    credentials = _credentials(options)
    if credentials:
        body['credentials'] = credentials
    Cli.make(server, json_output).show(
        lambda client: client.create_project(body),
        lambda item: Group(f'Project [bold]{item["id"]}[/] added.', render.project_details(item)),
    )


@projects_app.command('edit')
def projects_edit(
    project: ProjectArg,
    name: NameOpt = None,
    repository: RepoOpt = None,
    base_branch: BaseOpt = None,
    command: CommandOpt = None,
    depth_levels: DepthsOpt = None,
    frameworks: FrameworksOpt = None,
    max_concurrent: MaxOpt = None,
    budget: BudgetOpt = None,
    queued_ttl: QueuedTtlOpt = None,
    runs_on: RunsOnOpt = None,
    token_env: TokenEnvOpt = None,
    token_stdin: TokenStdinOpt = False,
    ssh_key_file: SshKeyOpt = None,
    username: UsernameOpt = None,
    no_credentials: Annotated[bool, typer.Option('--no-credentials', help='Remove the stored credentials.')] = False,
    no_queued_ttl: Annotated[bool, typer.Option('--no-queued-ttl', help='Queued runs wait for ever again.')] = False,
    afk_cost_cap: Annotated[
        float | None,
        typer.Option(
            '--afk-cost-cap',
            min=0.01,
            metavar='USD',
            help='The AFK loop launches nothing more on a UTC day whose AFK cost reached this (docs/afk.md).',
        ),
    ] = None,
    no_afk_cost_cap: Annotated[bool, typer.Option('--no-afk-cost-cap', help='No daily AFK cost cap.')] = False,
    cap_stops_runs: Annotated[
        bool | None,
        typer.Option(
            '--cost-cap-stops-runs/--cost-cap-lets-runs-finish',
            help='Whether an AFK run that passes the daily cost cap while it runs is stopped (default: it finishes).',
        ),
    ] = None,
    log_retention_days: Annotated[
        int | None,
        typer.Option(
            '--log-retention-days',
            min=1,
            max=3650,
            metavar='DAYS',
            help="Its runs' output leaves the database this many days after they end (over the server's setting).",
        ),
    ] = None,
    memory_max: Annotated[
        str | None,
        typer.Option(
            '--memory-max',
            metavar='SIZE',
            help="Its runs' memory limit (4GiB, 512MiB), over the server's RUNBOARD_RUN_MEMORY_MAX (docs/security.md).",
        ),
    ] = None,
    no_memory_max: Annotated[
        bool, typer.Option('--no-memory-max', help="Its runs' memory limit is the server's again.")
    ] = False,
    cpus: Annotated[
        float | None,
        typer.Option(
            '--cpus',
            min=0.01,
            max=1024,
            help="Its runs' CPU limit in cores (1.5), over the server's RUNBOARD_RUN_CPUS (docs/security.md).",
        ),
    ] = None,
    no_cpus: Annotated[bool, typer.Option('--no-cpus', help="Its runs' CPU limit is the server's again.")] = False,
    no_log_retention: Annotated[
        bool, typer.Option('--no-log-retention', help="Its runs' logs follow the server's setting again.")
    ] = False,
    auto_retry: Annotated[
        int | None,
        typer.Option(
            '--auto-retry',
            min=0,
            max=3,
            metavar='N',
            help='Retry a run automatically up to N times when it ends as --auto-retry-on says (0: never).',
        ),
    ] = None,
    auto_retry_on: Annotated[
        Optional[str],
        typer.Option(
            '--auto-retry-on',
            metavar='STATUSES',
            help='Which ends are retried automatically: crashed, timed_out, failed, comma-separated '
            '(default crashed,timed_out).',
        ),
    ] = None,
    protected_branches: Annotated[
        Optional[str],
        typer.Option(
            '--protected-branches',
            metavar='GLOBS',
            help="The branches whose runs receive its protected variables, comma-separated globs ('main,release/*').",
        ),
    ] = None,
    no_protected_branches: Annotated[
        bool, typer.Option('--no-protected-branches', help='Its base branch alone is protected again.')
    ] = False,
    approval_required: Annotated[
        bool | None,
        typer.Option(
            '--approval-required/--no-approval-required',
            help="Whether a builder's run of a protected branch waits for an operator's approval.",
        ),
    ] = None,
    on_push: OnPushOpt = None,
    on_push_paths: OnPushPathsOpt = None,
    on_push_depth: OnPushDepthOpt = None,
    on_push_framework: OnPushFrameworkOpt = None,
    on_push_matrix: OnPushMatrixOpt = None,
    on_push_pull_requests: OnPushPullsOpt = None,
    cancel_in_progress: CancelOpt = None,
    no_on_push: Annotated[bool, typer.Option('--no-on-push', help='Pushes start no run any more.')] = False,
    if_version: Annotated[Optional[int], if_version_option('edit_version', 'projects show PROJECT --json')] = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Change a project; only the options given change. --on-push* set its push rules (docs/triggers.md). With
    --if-version, the change is refused (exit 3) when another operator changed the project since that version,
    instead of the last save winning."""
    options = locals()
    changes = _project_fields(options)
    credentials = _credentials(options)
    if credentials or no_credentials:
        changes['credentials'] = credentials
    if no_queued_ttl:
        changes['queued_ttl_seconds'] = None
    if afk_cost_cap is not None or no_afk_cost_cap:
        changes['afk_cost_cap_usd_per_day'] = None if no_afk_cost_cap else afk_cost_cap
    if log_retention_days is not None or no_log_retention:
        changes['log_retention_days'] = None if no_log_retention else log_retention_days
    if memory_max is not None or no_memory_max:
        try:
            changes['run_memory_max'] = None if no_memory_max else parse_memory(memory_max or '')
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint='--memory-max') from None
    if cpus is not None or no_cpus:
        changes['run_cpus'] = None if no_cpus else cpus
    if auto_retry is not None:
        changes['auto_retry'] = auto_retry
    if auto_retry_on is not None:
        changes['auto_retry_on'] = [status.strip() for status in auto_retry_on.split(',') if status.strip()]
    if cap_stops_runs is not None:
        changes['afk_cost_cap_stops_runs'] = cap_stops_runs
    if approval_required is not None:
        changes['approval_required'] = approval_required
    if protected_branches is not None or no_protected_branches:
        globs = [glob.strip() for glob in (protected_branches or '').split(',') if glob.strip()]
        changes['protected_branches'] = None if no_protected_branches else globs or None
    pushes = any(options.get(name) is not None for name in options if name.startswith(('on_push', 'cancel_in')))
    if not changes and not pushes and not no_on_push:
        raise typer.BadParameter('give at least one option to change (see --help)')

    async def update(client: Any) -> Any:
        body = with_version(changes, if_version, 'edit_version')
        if no_on_push:
            body['on_push'] = None
        elif pushes:
            body['on_push'] = on_push_rules((await client.get_project(project)).get('on_push'), options)
        return await client.update_project(project, body)

    changed = sorted([*changes, *(['on_push'] if pushes or no_on_push else [])])

    def shown(item: dict) -> str:
        return f'Project [bold]{item["id"]}[/] updated: {", ".join(changed)} (edit version {item["edit_version"]}).'

    Cli.make(server, json_output).show(update, shown)


@projects_app.command('hook-secret')
def projects_hook_secret(project: ProjectArg, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Make (or replace) the project's forge webhook secret; it is printed this once, the old one stops working."""

    async def make(client: Any) -> Any:
        return (await client.request('POST', f'/projects/{project}/hook-secret')).data

    Cli.make(server, json_output).show(
        make,
        lambda item: (
            f'Webhook for {item["project_id"]}: POST {item["url"]}\nSecret (shown this once): {item["secret"]}'
        ),
    )


@projects_app.command('badges')
def projects_badges(
    project: ProjectArg,
    new: Annotated[
        bool, typer.Option('--new', help='Turn them on with new addresses (the old ones stop working).')
    ] = False,
    off: Annotated[bool, typer.Option('--off', help='Turn them off: every address stops working.')] = False,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """The README status and coverage badges of the project's base branch: their addresses and the Markdown to paste
    (--new and --off: operators)."""
    if new and off:
        raise typer.BadParameter('--new or --off, not both', param_hint='--new')

    async def act(client: Any) -> Any:
        path = f'/projects/{project}/badges'
        if off:
            await client.request('DELETE', path)
            return (await client.request('GET', path)).data
        return (await client.request('POST' if new else 'GET', path)).data

    Cli.make(server, json_output).show(act, render.project_badges)


@projects_app.command('caches')
def projects_caches(
    project: ProjectArg,
    clear: Annotated[
        bool,
        typer.Option(
            '--clear', help="Empty them: every machine's next run starts without (runs under way keep theirs)."
        ),
    ] = False,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """The project's run caches ($RUNBOARD_CACHE_DIR, kept between runs): the base branch's and the other branches',
    their sizes on this server, when they were last cleared."""

    async def act(client: Any) -> Any:
        path = f'/projects/{project}/caches'
        return (await (client.request('POST', f'{path}/clear') if clear else client.request('GET', path))).data

    Cli.make(server, json_output).show(act, lambda item: render.run_caches(item, cleared=clear))


@projects_app.command('refresh')
def projects_refresh(project: ProjectArg, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Fetch a remote project's repository now (a path's: read its branches again) and show its state."""
    Cli.make(server, json_output).show(lambda client: client.refresh_repository(project), render.repository_state)


@projects_app.command('history')
def projects_history(
    project: ProjectArg,
    branch: Annotated[Optional[str], typer.Option('--branch', '-b', help='Only this branch (exact name).')] = None,
    limit: Annotated[int, typer.Option('--limit', '-n', min=1, max=500, help='Newest finished runs shown.')] = 20,
    days: Annotated[int, typer.Option('--days', min=1, max=90, help='Days the success rate covers.')] = 30,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """The project's newest finished runs and its success rate per day (in this machine's time zone); stopped
    runs are no verdict and not counted in the rate."""
    Cli.make(server, json_output).show(
        lambda client: client.project_history(
            project, branch=branch, limit=limit, days=days, utc_offset=history_view.local_utc_offset()
        ),
        history_view.history,
    )
