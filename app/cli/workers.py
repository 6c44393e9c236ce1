"""`runboard workers list|drain|undrain|remove`: the machines that execute runs (executor=celery)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from app.cli.context import Cli, JsonOpt, ServerOpt, given_id
from app.client import RunboardClient

workers_app = typer.Typer(help='Workers that execute runs (RUNBOARD_EXECUTOR=celery).', no_args_is_help=True)
NameArg = Annotated[
    str, typer.Argument(metavar='NAME', help='The worker name, from `runboard workers list`.', callback=given_id)
]


def _table(page: dict) -> Table | str:
    if page['executor'] != 'celery':
        return 'This server runs its runs itself (RUNBOARD_EXECUTOR=local): there are no workers.'
    if not page['items']:
        return 'No worker has registered yet: start one with `runboard worker`.'
    table = Table(
        'Name',
        'State',
        'Host',
        'Pid',
        'Labels',
        'Busy',
        'Last heartbeat',
        'Version',
        'Runs',
        caption=f'{page["busy"]} busy of {page["capacity"]} slots on live workers'
        + (f', {page["finishing"]} finishing on draining ones' if page.get('finishing') else ''),
    )
    for w in page['items']:
        table.add_row(
            w['name'],
            w['state'],
            w['host'],
            str(w['pid']),
            ', '.join(w['labels']) or '—',
            f'{w["busy"]}/{w["slots"]}',
            str(w['heartbeat_at'])[:19],
            w['version'],
            _runs(w),
        )
    return table


def _runs(worker: dict) -> Text:
    """How its runs execute, from its own environment: e.g. `sandboxed; limits: memory 4.0 GiB, 4096 processes`."""
    if not worker.get('sandbox'):
        return Text('—')  # a worker of an earlier version did not say
    said = f'{worker["sandbox"]}; limits: {worker.get("limits") or "none"}'
    return Text('\n'.join([said, *(f'warning: {w}' for w in worker.get('warnings') or [])]))  # text, not markup


@workers_app.command('list')
def workers_list(json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Every worker: state (live, draining, lost, stopped), labels, busy slots, last heartbeat."""
    Cli.make(server, json_output).show(lambda client: client.list_workers(), _table)


@workers_app.command('drain')
def workers_drain(name: NameArg, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Stop a worker taking new runs; the runs it holds finish (operators)."""
    Cli.make(server, json_output).show(
        lambda client: client.drain_worker(name),
        lambda w: f'{w["name"]} is draining: no new runs; {w["busy"]} still running there.',
    )


@workers_app.command('undrain')
def workers_undrain(name: NameArg, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Let a drained worker take runs again (operators)."""
    Cli.make(server, json_output).show(
        lambda client: client.drain_worker(name, drain=False), lambda w: f'{w["name"]} takes runs again.'
    )


@workers_app.command('remove')
def workers_remove(name: NameArg, json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Forget a stopped or lost worker now (administrators); gone workers also leave the list by themselves after
    RUNBOARD_WORKER_RETENTION_DAYS. A live or draining one is refused: drain and stop it first."""

    async def remove(client: RunboardClient) -> dict:
        await client.remove_worker(name)
        return {'name': name, 'removed': True}

    Cli.make(server, json_output).show(remove, lambda w: f'{w["name"]} removed from the workers list.')
