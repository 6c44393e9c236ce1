"""Matrix batches from the CLI: `runboard runs trigger --matrix depth=shallow,deep --matrix framework=python,node`
(one run per combination under one key, answered per child; with --follow, waited for until every run ends, its
exit code the batch's outcome) and `runboard runs batch BATCH_ID`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any, Optional

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from app.cli import render
from app.cli.context import Cli, JsonOpt, ServerOpt, given_id
from app.cli.follow import follow_batch_runs
from app.cli.policy import Exit, exit_code_for_batch, exit_code_for_followed_batch
from app.cli.run_defaults import defaults_for
from app.cli.run_flow import _notices, following_notices, outcome_line, spinner
from app.cli.submit import send_until_answered
from app.client import RunboardClient, new_idempotency_key
from app.state.batch_view import approve_targets, batch_action_key, rerun_targets, stop_targets
from app.state.bulk_selection import outcome_text

AXIS_NAMES = {
    'depth': 'depth_level',
    'depth_level': 'depth_level',
    'framework': 'target_framework',
    'target_framework': 'target_framework',
}
MATRIX_AXES = ('depth_level', 'target_framework')
MAX_WAIT_ROUNDS = 20  # --wait: resends after rate-limited children at most this often


def parse_matrix(values: Sequence[str], *, depth: str | None, framework: str | None) -> dict[str, list[str]]:
    """Pure: the matrix of `--matrix AXIS=V1,V2` options; an axis without one takes --depth / --framework as
    its single value, or is left out (run_matrix gives it the project's first, as a plain trigger does).
    Raises typer.BadParameter (exit 2) for anything else."""
    matrix: dict[str, list[str]] = {}
    for value in values:
        name, sep, listed = value.partition('=')
        axis = AXIS_NAMES.get(name.strip().lower())
        if not sep or axis is None:
            raise typer.BadParameter(f'{value!r}: write depth=V1,V2 or framework=V1,V2.', param_hint="'--matrix'")
        if axis in matrix:
            raise typer.BadParameter(f'{name.strip()} is given twice; list its values once.', param_hint="'--matrix'")
        items = [item.strip() for item in listed.split(',') if item.strip()]
        if not items:
            raise typer.BadParameter(f'{value!r} lists no value.', param_hint="'--matrix'")
        matrix[axis] = items
    for axis, single, option in (('depth_level', depth, '--depth'), ('target_framework', framework, '--framework')):
        if axis in matrix and single is not None:
            raise typer.BadParameter(f'give {option} or --matrix {option[2:]}=..., not both.', param_hint=f"'{option}'")
        if axis not in matrix and single is not None:
            matrix[axis] = [single]
    return matrix


def wait_for(batch: dict[str, Any]) -> int | None:
    """Pure: seconds to wait before a resend may admit more (every refused child was rate limited), else None."""
    refused = [c['problem'] for c in batch['children'] if c['outcome'] == 'refused']
    if not refused or any(p['error'] != 'rate_limited' for p in refused):
        return None
    return max(1, max(p.get('retry_after') or 1 for p in refused))


def batch_table(batch: dict[str, Any]) -> Table:
    table = Table(header_style='bold', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for column in ('DEPTH', 'FRAMEWORK', 'OUTCOME', 'RUN', 'STATUS', 'WHY NOT'):
        table.add_column(column, no_wrap=column != 'WHY NOT')
    for child in batch['children']:
        run, problem = child.get('run'), child.get('problem')
        outcome = child['outcome'] + (' (replayed)' if child.get('replayed') else '')
        why = f'{problem["error"]}: {problem["detail"]}' if problem else ''
        table.add_row(
            child['depth_level'],
            child['target_framework'],
            outcome,
            run['id'] if run else '-',
            render.run_status_text(run) if run else '-',
            render.escape(why),
        )
    return table


def print_batch(cli: Cli, batch: dict[str, Any], *, said: str = '') -> None:
    counts = batch['summary']
    cli.out.print(
        f'Batch [bold]{batch["id"]}[/]{said}: {batch["project_id"]} {render.escape(batch["branch"])}, '
        f'{counts["total"]} runs ({batch["mode"]}): {counts["admitted"]} admitted, {counts["refused"]} refused'
        + (f', {counts["pending"]} not tried yet' if counts['pending'] else '')
        + '.'
    )
    if batch.get('variables'):  # every child's own
        variables = ' '.join(f'{name}={value}' for name, value in batch['variables'].items())
        cli.out.print(Text('Variables: ') + Text(variables, style='bold'))
    cli.out.print(batch_table(batch))


async def trigger_batch(
    cli: Cli,
    client: RunboardClient,
    *,
    project: str,
    branch: str,
    matrix: dict[str, list[str]],
    all_or_nothing: bool,
    key: str | None,
    wait: bool,
    variables: dict[str, str] | None = None,
    follow: bool = False,
) -> int:
    """One key for every send: resends after a lost answer replay the batch; with --wait, a batch whose refused
    children were only rate limited is sent again (same key) once the window allows, until every child is in. With
    --follow, the admitted children's runs are then waited for (follow_batch)."""
    if key is None:
        key = new_idempotency_key()
        cli.info.print(f'Idempotency key: {key}  [dim](reuse it with --key to admit the missing children)[/]')

    async def send() -> Any:
        return await client.trigger_batch(
            project_id=project,
            branch=branch,
            depth_levels=matrix['depth_level'],
            target_frameworks=matrix['target_framework'],
            key=key,
            all_or_nothing=all_or_nothing,
            variables=variables,
        )

    reply = await send_until_answered(send, notices=_notices(cli), wait_on_rate_limit=False)
    for _ in range(MAX_WAIT_ROUNDS if wait else 0):
        seconds = wait_for(reply.data)
        if seconds is None:
            break
        cli.err.print(f'[yellow]Rate limited:[/] waiting {seconds} s, then sending the batch again with the same key.')
        await asyncio.sleep(seconds)
        reply = await send_until_answered(send, notices=_notices(cli), wait_on_rate_limit=False)
    batch = reply.data
    if cli.json and not follow:
        cli.print_json(batch)
    elif not cli.json:
        print_batch(cli, batch, said=' (replayed: this key made it)' if reply.replayed else ' created')
        if batch['summary']['admitted'] < batch['summary']['total']:
            cli.out.print(f'[dim]Admit the missing ones: run the same command with --key {key}[/]')
        if not follow:
            cli.out.print(f'[dim]Watch it: runboard runs batch {batch["id"]}[/]')
    if follow:
        return await follow_batch(cli, client, batch)
    return exit_code_for_batch(batch['summary'])


async def follow_batch(cli: Cli, client: RunboardClient, batch: dict[str, Any]) -> int:
    """`runs trigger --matrix ... --follow`: wait until every admitted child's run has ended, saying each outcome as
    it comes (on stderr with --json), then exit with the batch's outcome (exit_code_for_followed_batch). --json
    prints the batch once all ended, each child's run as it ended."""
    run_ids = [child['run']['id'] for child in batch['children'] if child.get('run')]
    ended: dict[str, dict[str, Any]] = {}
    count = 0  # of them ended
    if run_ids:
        cli.batch_in_hand = batch['id']
        cli.info.print(f'Following the {len(run_ids)} runs of batch {batch["id"]} until each ends…')
        with spinner(cli, f'{batch["id"]}: 0 of {len(run_ids)} runs ended…') as status:

            def on_end(run: dict[str, Any]) -> None:
                nonlocal count
                count += 1
                cell = f'{render.escape(run["depth_level"])}/{render.escape(run["target_framework"])}'
                cli.info.print(f'{cell}: {outcome_line(run["id"], run)}')
                if status is not None:
                    status.update(f'{batch["id"]}: {count} of {len(run_ids)} runs ended…')

            batch, ended = await follow_batch_runs(
                client,
                batch['id'],
                run_ids,
                project_id=batch['project_id'],
                on_end=on_end,
                **following_notices(cli, reading='the batch'),
            )
        cli.batch_in_hand = None
    statuses = [ended[run_id]['status'] for run_id in run_ids]
    code = exit_code_for_followed_batch(batch['summary'], statuses)
    if cli.json:
        by_cell = {(run['depth_level'], run['target_framework']): run for run in ended.values()}
        children = [
            {**child, 'run': by_cell.get((child['depth_level'], child['target_framework']), child.get('run'))}
            for child in batch['children']
        ]
        cli.print_json({**batch, 'children': children})
    else:
        counts = ', '.join(f'{statuses.count(s)} {s}' for s in sorted(set(statuses)))
        missing = batch['summary']['total'] - len(run_ids)
        cli.out.print(
            f'Batch [bold]{batch["id"]}[/]: {counts or "no run"}'
            + (f', {missing} not admitted' if missing else '')
            + f'; exit {int(code)}.'
        )
    return code


def show_batch(
    batch_id: Annotated[str, typer.Argument(metavar='BATCH_ID', help='The batch, e.g. bat_01JD...', callback=given_id)],
    rerun_failed: Annotated[
        bool,
        typer.Option(
            '--rerun-failed',
            help='Retry each combination whose run did not succeed; each retry takes its place in the batch '
            "(GitHub's re-run failed jobs). Exit 3 if any is refused.",
        ),
    ] = False,
    stop_all: Annotated[
        bool,
        typer.Option(
            '--stop-all', help="Stop each combination whose run is still queued or running (GitHub's cancel workflow)."
        ),
    ] = False,
    approve_all: Annotated[
        bool,
        typer.Option(
            '--approve-all',
            help="Approve each combination whose run waits for an operator's approval (operators only; GitHub's "
            'review deployments).',
        ),
    ] = False,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Show a matrix batch: each combination's outcome (admitted, or refused and why) and its run's status now."""
    cli = Cli.make(server, json_output)
    if rerun_failed + stop_all + approve_all > 1:
        raise typer.BadParameter('one of --rerun-failed, --stop-all and --approve-all at a time')

    async def act(client: RunboardClient, batch: dict[str, Any], action: str, run_ids: list[str]) -> int:
        """One bulk action on the batch's runs, under a key made from them (a resend replays it)."""
        key = batch_action_key(batch['id'], action, run_ids)
        answer = await client.bulk_runs({'action': action, 'run_ids': run_ids}, key=key)
        for item in answer['items']:
            said = outcome_text({**item, 'action': action})
            (cli.err if item['outcome'] == 'refused' else cli.info).print(f'{item["run_id"]}: {said}')
        return Exit.REFUSED if answer['summary']['refused'] else Exit.OK

    async def work(client: RunboardClient) -> int:
        batch = await client.get_batch(batch_id)
        code: int = Exit.OK
        if rerun_failed or stop_all or approve_all:
            action = 'retry' if rerun_failed else 'stop' if stop_all else 'approve'
            run_ids = {'retry': rerun_targets, 'stop': stop_targets, 'approve': approve_targets}[action](batch)
            if not run_ids:
                verb, what = {
                    'retry': ('re-run', 'ended without succeeding'),
                    'stop': ('stop', 'is queued or running'),
                    'approve': ('approve', "waits for an operator's approval"),
                }[action]
                cli.err.print(f'Nothing to {verb}: no combination of the batch {what}.')
            else:
                code = await act(client, batch, action, run_ids)
                batch = await client.get_batch(batch_id)
        if cli.json:
            cli.print_json(batch)
        else:
            print_batch(cli, batch)
            if batch['runs_by_status']:
                statuses = ', '.join(f'{n} {status}' for status, n in batch['runs_by_status'].items())
                cli.out.print(f'Runs: {statuses}.')
        return code

    cli.execute(work)


MatrixOpt = Annotated[
    Optional[list[str]],
    typer.Option(
        '--matrix',
        '-m',
        metavar='AXIS=V1,V2',
        help='Run every combination as one batch: --matrix depth=shallow,deep --matrix framework=python,node '
        "(repeat for several axes; one left out takes --depth / --framework, else the project's first). "
        'Exit 3 if any child is refused.',
        rich_help_panel='Matrix',
    ),
]
AllOrNothingOpt = Annotated[
    bool,
    typer.Option(
        '--all-or-nothing',
        help='With --matrix: create no run unless every combination is admitted (default: admit what can be).',
        rich_help_panel='Matrix',
    ),
]


def run_matrix(
    cli: Cli,
    project: str,
    branch: str | None,
    options: list[str],
    choices: tuple[str | None, str | None],
    all_or_nothing: bool,
    key: str | None,
    wait: bool,
    single_only: dict[str, Any],
    variables: dict[str, str],
    follow: bool = False,
) -> None:
    """`runs trigger --matrix ...`: the options a single run takes and a batch does not are refused (exit 2)."""
    given = [option for option, value in single_only.items() if value]
    if given:
        raise typer.BadParameter(f'{given[0]} is for a single run; a matrix batch cannot use it.')
    if not options:
        raise typer.BadParameter('--all-or-nothing needs --matrix.', param_hint="'--all-or-nothing'")
    matrix = parse_matrix(options, depth=choices[0], framework=choices[1])

    async def work(client: RunboardClient) -> int:
        defaults = await defaults_for(client, project, branch, *(matrix.get(axis) for axis in MATRIX_AXES))
        return await trigger_batch(
            cli,
            client,
            project=project,
            branch=branch or defaults['branch'],
            matrix={axis: matrix.get(axis) or [defaults[axis]] for axis in MATRIX_AXES},
            all_or_nothing=all_or_nothing,
            key=key,
            wait=wait,
            variables=variables,
            follow=follow,
        )

    cli.execute(work)
