"""`runboard runs ...`: trigger, retry, list, show, logs, stop."""

from __future__ import annotations

import hashlib
import sys
import uuid
from datetime import datetime
from typing import Annotated, Any, Optional

import typer
from tzlocal import get_localzone

from app.cli import artifacts as artifact_commands
from app.cli import render
from app.cli.batch import AllOrNothingOpt, MatrixOpt, run_matrix
from app.cli.context import (
    Cli,
    JsonOpt,
    ProjectArgument,
    ProjectOption,
    ServerOpt,
    chosen_project,
    complete_project,
    given_id,
    parse_vars,
    var_option,
)
from app.cli.list_filters import LISTED_KINDS, LISTED_STATUSES, kind_to_list, statuses_to_list
from app.cli.policy import Exit, exit_code_for_outcome
from app.cli.run_defaults import BranchOpt, DepthOpt, FrameworkOpt, defaults_for
from app.cli.run_flow import create_then_maybe_follow, follow_and_print, follow_raw
from app.cli.when import at_time
from app.client import Response, RunboardClient
from app.models import TERMINAL_STATUSES
from app.models.vocabulary import AWAITING_APPROVAL
from app.state.bulk_selection import outcome_text, summary_text

runs_app = typer.Typer(help='Trigger, watch, retry and stop runs.', no_args_is_help=True)
SEARCH_HELP = 'Text in the run id, branch, issue, pull request or commit title; or the start of a commit sha.'

RunIdArg = Annotated[str, typer.Argument(metavar='RUN_ID', help='The run, e.g. run_01JD...', callback=given_id)]
KeyOpt = Annotated[
    Optional[str],
    typer.Option(
        '--key',
        '-k',
        metavar='KEY',
        help='Idempotency key. Sending the same key again returns the same run '
        'instead of making a new one. Generated and printed when omitted.',
    ),
]
FollowOpt = Annotated[
    bool,
    typer.Option(
        '--follow', help="Stream the run's output until it ends; the exit code is then 0 if it succeeded, 1 otherwise."
    ),
]
WaitOpt = Annotated[
    bool,
    typer.Option(
        '--wait',
        help='When the run limit is reached (429), wait the time the '
        'server names and try again with the same key, instead of exiting 3.',
    ),
]


# ------------------------------------------------------------------ commands
@runs_app.command('trigger')
def trigger(
    project_argument: ProjectArgument = None,
    project_option: ProjectOption = None,
    branch: BranchOpt = None,
    depth: DepthOpt = None,
    framework: FrameworkOpt = None,
    key: KeyOpt = None,
    matrix: MatrixOpt = None,
    all_or_nothing: AllOrNothingOpt = False,
    at: Annotated[
        Optional[str],
        typer.Option(
            '--at',
            metavar='TIME',
            help='Run later, at this time: 14:30 (the next one), 2026-11-23 14:30, or ISO 8601 with an offset. '
            'Without an offset it is your local time.',
            rich_help_panel='Later',
        ),
    ] = None,
    run_in: Annotated[
        Optional[str],
        typer.Option(
            '--in', metavar='DURATION', help='Run later, after this long: 90s, 10m, 2h, 1h30m.', rich_help_panel='Later'
        ),
    ] = None,
    ttl: Annotated[
        Optional[str],
        typer.Option(
            '--ttl',
            metavar='DURATION',
            help='Give up if it is still queued after this long (it ends expired), e.g. 30m.',
            rich_help_panel='Later',
        ),
    ] = None,
    var: Annotated[Optional[list[str]], var_option('this run (of each run, with --matrix)')] = None,
    like: Annotated[
        Optional[str],
        typer.Option(
            '--like',
            metavar='RUN_ID',
            help='A new run like this one, whatever its outcome: its project, branch, depth, framework and '
            'variables, each overridden by what you give (a --var replaces that variable).',
            callback=given_id,
        ),
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            '--follow',
            help="Stream the run's output until it ends; the exit code is then 0 if it succeeded, 1 otherwise. With "
            "--matrix: wait for every run of the batch, printing each one's outcome as it ends; 0 only if all "
            'succeeded, 1 if any did not, else 3 if a child was refused.',
        ),
    ] = False,
    wait: WaitOpt = False,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Start a run of a project on a branch, now or later (--at / --in: it waits `delayed`, holding nothing).

    A dropped connection, a timeout or a server error is retried with the same idempotency key, so a retry never makes a second run. Exit 3 when refused: the run limit (429, prints the wait) or a lock (409, names the blocking run).
    """  # noqa: E501
    cli = Cli.make(server, json_output)
    # with --like, the project is the run's (one given must be it)
    project = chosen_project(project_argument, project_option) if not like or project_argument or project_option else ''
    variables = parse_vars(var)
    if like and (matrix or all_or_nothing):
        raise typer.BadParameter('--like makes one run; a matrix batch cannot use it', param_hint='--like')
    if matrix or all_or_nothing:  # one run per combination, as a batch (app/cli/batch.py)
        single = {'--at': at, '--in': run_in, '--ttl': ttl}
        choices = (depth, framework)
        return run_matrix(
            cli, project, branch, matrix or [], choices, all_or_nothing, key, wait, single, variables, follow=follow
        )
    run_at = None
    if at is not None and run_in is not None:
        raise typer.BadParameter('give --at or --in, not both', param_hint='--at')
    if at is not None:
        run_at = at_time(at, datetime.now(get_localzone()))  # the zone, not today's offset (DST may change first)
        if run_at is None:
            raise typer.BadParameter(
                f'{at!r} is not a time: write 14:30, 2026-11-23 14:30 or ISO 8601', param_hint='--at'
            )

    async def work(client: RunboardClient) -> int:
        original = await client.get_run(like, events_limit=1) if like else None
        if original is not None and project and project != original['project_id']:
            raise typer.BadParameter(
                f'run {like} is of project {original["project_id"]}, not {project}', param_hint='--like'
            )
        run_project = original['project_id'] if original is not None else project
        # what is not given: the run's (--like), else the project's base branch and first choices, as the Run form
        # preselects them
        if original is not None:
            given = {'branch_name': branch, 'depth_level': depth, 'target_framework': framework}
            chosen = {k: v or original[k] for k, v in given.items()}
            chosen_branch, chosen_depth, chosen_framework = chosen.values()
            chosen_variables = {**(original.get('variables') or {}), **variables}
        else:
            defaults = await defaults_for(client, project, branch, depth, framework)
            chosen_branch = branch or defaults['branch']
            chosen_depth = depth or defaults['depth_level']
            chosen_framework = framework or defaults['target_framework']
            chosen_variables = variables

        async def send(k: str) -> Response:
            return await client.trigger_run(
                project_id=run_project,
                branch=chosen_branch,
                depth_level=chosen_depth,
                target_framework=chosen_framework,
                key=k,
                run_at=run_at,
                run_in=run_in,
                ttl=ttl,
                variables=chosen_variables,
            )

        return await create_then_maybe_follow(cli, client, send, key=key, follow=follow, wait=wait)

    cli.execute(work)


@runs_app.command('retry')
def retry(
    run_id: RunIdArg,
    branch: Annotated[Optional[str], typer.Option('--branch', '-b', help='Run on this branch instead.')] = None,
    depth: Annotated[Optional[str], typer.Option('--depth', '-d', help='Use this depth level instead.')] = None,
    framework: Annotated[
        Optional[str], typer.Option('--framework', '-f', help='Use this target framework instead.')
    ] = None,
    key: KeyOpt = None,
    follow: FollowOpt = False,
    wait: WaitOpt = False,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Run a failed, timed-out, crashed or stopped run again (the new run links to it with retry_of)."""
    cli = Cli.make(server, json_output)
    overrides = {'branch': branch, 'depth_level': depth, 'target_framework': framework}

    async def work(client: RunboardClient) -> int:
        async def send(k: str) -> Response:
            return await client.retry_run(run_id, key=k, overrides=overrides)

        return await create_then_maybe_follow(cli, client, send, key=key, follow=follow, wait=wait)

    cli.execute(work)


@runs_app.command('list')
def list_runs(
    project: Annotated[
        Optional[str],
        typer.Option('--project', '-p', help='Only this project.', autocompletion=complete_project, callback=given_id),
    ] = None,
    status: Annotated[
        Optional[list[str]],
        typer.Option(
            '--status',
            '-s',
            help=f'Only these statuses (repeat, or comma-separated): {", ".join(LISTED_STATUSES[:-1])}; '
            f"{LISTED_STATUSES[-1]}: the delayed runs that wait for an operator's approval.",
        ),
    ] = None,
    kind: Annotated[Optional[str], typer.Option('--kind', help=f'One of: {", ".join(LISTED_KINDS)}.')] = None,
    branch: Annotated[Optional[str], typer.Option('--branch', '-b', help='Only this branch.')] = None,
    user: Annotated[Optional[str], typer.Option('--user', '-u', help='Only runs by this user.')] = None,
    since: Annotated[
        Optional[str], typer.Option('--since', help='Created at or after: YYYY-MM-DD or ISO 8601 (UTC).')
    ] = None,
    until: Annotated[
        Optional[str], typer.Option('--until', help='Created before; a date includes that whole day (UTC).')
    ] = None,
    search: Annotated[Optional[str], typer.Option('--search', '-q', help=SEARCH_HELP)] = None,
    limit: Annotated[int, typer.Option('--limit', '-n', min=1, max=500, help='At most this many.')] = 20,
    cursor: Annotated[
        Optional[str],
        typer.Option(
            '--cursor', help='Continue after this run id (the next_cursor of the previous page).', callback=given_id
        ),
    ] = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """List runs, newest first."""
    statuses, kind = statuses_to_list(status), kind_to_list(kind)
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> None:
        page = await client.list_runs(
            project=project,
            status=','.join(statuses) or None,
            kind=kind,
            branch=branch,
            user=user,
            since=since,
            until=until,
            q=search,
            limit=limit,
            cursor=cursor,
        )
        if not page['items'] and project:
            await client.get_project(project)  # a mistyped project is exit 4 (not found), not "no runs"
        if cli.json:
            cli.print_json(page)
            return
        if not page['items']:
            cli.out.print('No runs.')
            return
        cli.out.print(render.runs_table(page['items'], width=cli.out.width, one_project=project is not None))
        cli.hint_next_page(page)

    cli.execute(work)


@runs_app.command('show')
def show(
    run_id: RunIdArg,
    lines: Annotated[int, typer.Option('--lines', '-n', min=0, help='Show this many last timeline events.')] = 15,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Show one run: its parameters, status, timing, its stages, its annotations, its test results (failing tests
    marked new, still failing or flaky), the summary it wrote ($RUNBOARD_SUMMARY) and the end of its timeline."""
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> None:
        run = await client.get_run(run_id, events_limit=2000 if cli.json else lines)
        tests = await client.run_tests(run_id)
        if cli.json:
            cli.print_json({**run, 'tests': tests})
            return
        cli.out.print(render.run_details(run))
        stages = render.stages_table(run)
        if stages is not None:
            cli.out.print()
            cli.out.print(stages)
        annotations = render.annotations_table(run)
        if annotations is not None:
            cli.out.print()
            cli.out.print(annotations)
        summary = artifact_commands.tests_summary(tests)
        if summary is not None:
            cli.out.print()
            cli.out.print(summary)
            failing = artifact_commands.tests_table(tests)
            if failing is not None:
                cli.out.print(failing)
        written = await artifact_commands.run_summary(client, run_id)
        if written is not None:
            cli.out.print()
            cli.out.print(written)
        if run.get('events'):
            cli.out.print()
            for event in run['events']:
                cli.out.print(render.event_line(event))

    cli.execute(work)


@runs_app.command('logs')
def logs(
    run_id: RunIdArg,
    follow: Annotated[
        bool,
        typer.Option('--follow', '-f', help='Keep streaming until the run ends; exit 0 if it succeeded, 1 otherwise.'),
    ] = False,
    json_output: Annotated[
        bool,
        typer.Option(
            '--json',
            help='Events as JSON: one array, or with --follow one object per line (JSON Lines).',
            rich_help_panel='Output',
        ),
    ] = False,
    raw: Annotated[
        bool,
        typer.Option(
            '--raw',
            help='Only the output, exactly as printed (colour codes kept): for files and pipes. With --follow, as it '
            'comes, and the exit code is the outcome.',
        ),
    ] = False,
    server: ServerOpt = None,
) -> None:
    """Print a run's timeline: status changes, stages and output lines, in order."""
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> int:
        if raw and follow:
            final = await follow_raw(cli, client, run_id)
            return exit_code_for_outcome(final['status'])
        if raw:
            async for chunk in client.run_log(run_id):
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return Exit.OK
        run = await client.get_run(run_id, events_limit=0)
        if run.get('log_removed_at'):  # to stderr: what follows is still only the run's own lines
            kept = 'only its status, stage and annotation lines are left'
            cli.err.print(f'Output removed on {run["log_removed_at"][:10]} (log retention): {kept}')
        if follow:
            final = await follow_and_print(cli, client, run_id, json_lines=cli.json)
            return exit_code_for_outcome(final['status'])
        events, after = [], 0
        while True:
            page = await client.run_events(run_id, after=after, limit=1000)
            if cli.json:
                events.extend(page)
            else:
                for event in page:
                    cli.out.print(render.event_line(event))
            if len(page) < 1000:
                break
            after = page[-1]['seq']
        if cli.json:
            cli.print_json(events)
        return Exit.OK

    cli.execute(work)


runs_app.command('artifacts')(artifact_commands.artifacts)


@runs_app.command('approve')
def approve(
    run_ids: Annotated[
        Optional[list[str]],
        typer.Argument(metavar='[RUN_ID]...', help='The runs, e.g. run_01JD... (one or more).', callback=given_id),
    ] = None,
    every: Annotated[
        bool, typer.Option('--all', help="Every run that waits for an operator's approval (with --project: its own).")
    ] = False,
    project: Annotated[
        Optional[str],
        typer.Option('--project', '-p', help='With --all: only this project.', autocompletion=complete_project),
    ] = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Approve runs that wait for an operator (a protected branch's runs; `runs stop` rejects one). Several runs, or
    --all, are approved in one bulk action: each waiting one is approved, any other skipped with the reason."""
    if bool(run_ids) == every:
        raise typer.BadParameter('name the runs to approve, or --all' + (', not both' if every else ''))
    if project and not every:
        raise typer.BadParameter('--project goes with --all')
    cli = Cli.make(server, json_output)
    if run_ids and len(run_ids) == 1:
        run_id = run_ids[0]
        cli.show(
            lambda client: client.approve_run(run_id),
            lambda run: (
                f'Approved {run_id}: it is admitted '
                + (
                    f'at {str(run["run_at"])[:19].replace("T", " ")} UTC.'
                    if str(run.get('run_at') or '') > str(run.get('approved_at') or '')
                    else "now, or when its branch's lock and the project's limits let it."
                )
            ),
        )
        return

    async def work(client: RunboardClient) -> int:
        if every:
            waiting: dict[str, Any] = {'status': [AWAITING_APPROVAL]} | ({'project': project} if project else {})
            body: dict[str, Any] = {'action': 'approve', 'filter': waiting}
            key = f'approve-all-{uuid.uuid4()}'  # what waits now: a second --all is a new action
        else:
            body = {'action': 'approve', 'run_ids': run_ids}
            key = 'approve-' + hashlib.sha256(','.join(sorted(run_ids or [])).encode()).hexdigest()[:32]
        answer = await client.bulk_runs(body, key=key)
        if cli.json:
            cli.print_json(answer)
        elif not answer['items']:
            cli.err.print("Nothing to approve: no run waits for an operator's approval.")
        else:
            for item in answer['items']:
                said = outcome_text({**item, 'action': 'approve'})
                (cli.err if item['outcome'] == 'refused' else cli.out).print(f'{item["run_id"]}: {said}')
            cli.info.print(summary_text(answer))
        return Exit.REFUSED if answer['summary']['refused'] else Exit.OK

    cli.execute(work)


@runs_app.command('stop')
def stop(run_id: RunIdArg, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Stop a queued or running run, or cancel a delayed one (it ends as stopped, which is not a failure)."""
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> None:
        run = await client.stop_run(run_id)
        if cli.json:
            cli.print_json(run)
        else:
            status = run['status']
            if status in TERMINAL_STATUSES:
                cli.out.print(f'Run [bold]{run_id}[/] {status}.')
            else:
                cli.out.print(
                    f'Stop requested for run [bold]{run_id}[/] (still {status}); '
                    f'[dim]runboard runs logs {run_id} --follow[/] watches it end.'
                )

    cli.execute(work)
