"""The flows every run-creating or run-watching command shares: one idempotency key for every resend
(with notices while resending or waiting out a rate limit), the answer, then maybe following the run's
timeline to its end (the exit code follows the outcome)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any, TypedDict

import typer
from rich.status import Status

from app.cli import artifacts as artifact_commands
from app.cli import follow as following
from app.cli import render
from app.cli.context import Cli
from app.cli.follow import GIVE_UP_SECONDS, follow_run
from app.cli.policy import Exit, exit_code_for_outcome
from app.cli.submit import MAX_ATTEMPTS, Notices, send_until_answered
from app.client import ApiError, Response, RunboardClient, new_idempotency_key
from app.models.vocabulary import OUTPUT_EVENT_TYPES, awaits_approval
from app.state.live_pause import since_text


@contextlib.contextmanager
def spinner(cli: Cli, message: str) -> Iterator[Status | None]:
    """A spinner on the terminal the person watches; nothing when output is piped."""
    console = cli.info
    if not console.is_terminal:
        yield None
        return
    with console.status(message) as status:
        yield status


def _notices(cli: Cli) -> Notices:
    def resending(error: ApiError, delay: float, attempt: int) -> None:
        cli.err.print(
            f'[yellow]{render.escape(error.detail)}[/] Sending again with the same key in '
            f'{delay:.2f} s (attempt {attempt + 1} of {MAX_ATTEMPTS}).'
        )

    async def rate_limited_wait(error: ApiError, seconds: float) -> None:
        cli.err.print(
            f'[yellow]Rate limited:[/] {render.escape(error.detail)} Waiting {seconds:.0f} s, then '
            'trying again with the same key (--wait).'
        )
        with spinner(cli, '') as status:
            remaining = seconds
            while remaining > 0:
                if status is not None:
                    status.update(f'Rate limited: trying again in {remaining:.0f} s')
                step = min(1.0, remaining)
                await asyncio.sleep(step)
                remaining -= step

    return Notices(resending, rate_limited_wait)


async def create_then_maybe_follow(
    cli: Cli,
    client: RunboardClient,
    send: Callable[[str], Awaitable[Response]],
    *,
    key: str | None,
    follow: bool,
    wait: bool,
) -> int:
    """The flow of every run-creating command: one key for every resend, then the answer, then maybe follow."""
    if key is None:
        key = new_idempotency_key()
        cli.info.print(f'Idempotency key: {key}  [dim](reuse it with --key to resend safely)[/]')
    reply = await send_until_answered(lambda: send(key), notices=_notices(cli), wait_on_rate_limit=wait)
    run = reply.data
    if not follow:
        if cli.json:
            cli.print_json(run)
        else:
            said = 'already made for this key (replayed)' if reply.replayed else 'created'
            cli.out.print(f'Run [bold]{run["id"]}[/] {said}: {render.run_subject(run)}, {run["status"]}.')
            if awaits_approval(run):
                cli.out.print(
                    f"It waits for an operator's approval (branch {run['branch_name']} is protected), holding nothing "
                    f'until then. [dim]An operator approves it: runboard runs approve {run["id"]}[/]'
                )
            elif run['status'] == 'delayed':
                cli.out.print(
                    f'It runs at {render.when(run.get("run_at"))}, holding nothing until then. '
                    f'[dim]Cancel it: runboard runs stop {run["id"]}[/]'
                )
            if run['status'] in ('delayed', 'queued', 'running'):
                cli.out.print(f'[dim]Watch it: runboard runs logs {run["id"]} --follow[/]')
    else:
        if not cli.json:
            said = ' (replayed: this key already made it)' if reply.replayed else ''
            cli.out.print(f'Run [bold]{run["id"]}[/]{said}: {render.run_subject(run)}')
        final = await follow_and_print(cli, client, run['id'], json_lines=False)
        if cli.json:
            cli.print_json(final)
        return exit_code_for_outcome(final['status'])
    return Exit.OK


async def follow_and_print(cli: Cli, client: RunboardClient, run_id: str, *, json_lines: bool) -> dict[str, Any]:
    """Print the run's timeline as it grows; returns the final run. Human lines go to stdout, or to stderr
    when stdout is reserved for JSON."""
    cli.run_in_hand = run_id
    console = cli.info
    with spinner(cli, f'{run_id}: waiting…') as status:

        def on_event(event: dict[str, Any]) -> None:
            if json_lines:
                typer.echo(json.dumps(event, default=str))
            elif not cli.json:
                console.print(render.event_line(event))

        def on_status(run: dict[str, Any]) -> None:
            if status is not None:
                status.update(f'{run_id}: {run["status"]}…')

        final = await follow_run(
            client, run_id, on_event=on_event, on_status=on_status, **following_notices(cli, reading='the run')
        )
    if not json_lines:
        cli.info.print(outcome_line(run_id, final))
        if final['status'] != 'succeeded':
            await print_failing_tests(cli, client, run_id)
    return final


class FollowingNotices(TypedDict):
    on_connection_problem: Callable[[ApiError], None]
    on_live_paused: Callable[[datetime], None]
    on_live_resumed: Callable[[], None]


def following_notices(cli: Cli, *, reading: str) -> FollowingNotices:
    """What a follower says on stderr while the server is away or its live updates are paused: the callbacks of
    follow_run and follow_batch_runs. `reading` is what is polled meanwhile ('the run', 'the batch')."""

    def on_connection_problem(error: ApiError) -> None:
        cli.err.print(
            f'[yellow]{render.escape(error.detail)}[/] Still following; reconnecting '
            f'(for up to {GIVE_UP_SECONDS:.0f} s)…'
        )

    def on_live_paused(since: datetime) -> None:
        cli.err.print(
            f'[yellow]Live updates paused[/]: the server lost its connection to Redis ({since_text(since)}). '
            f'Still following: reading {reading} every {following.POLL_SECONDS:g} s until they resume.'
        )

    return {
        'on_connection_problem': on_connection_problem,
        'on_live_paused': on_live_paused,
        'on_live_resumed': lambda: cli.err.print('Live updates resumed.'),
    }


def outcome_line(run_id: str, final: dict[str, Any]) -> str:
    style = render.STATUS_STYLE.get(final['status'], 'bold')
    exit_text = f', exit code {final["exit_code"]}' if final.get('exit_code') is not None else ''
    return f'Run [bold]{run_id}[/] [{style}]{final["status"]}[/] after {render.duration(final)}{exit_text}.'


async def follow_raw(cli: Cli, client: RunboardClient, run_id: str) -> dict[str, Any]:
    """`runs logs --raw --follow`: the run's output lines exactly as printed (what `--raw` prints of an ended run),
    written as they come, until the run ends; returns the final run. stdout has only those lines: the outcome and
    any reconnecting go to stderr."""
    cli.run_in_hand = run_id
    out = sys.stdout.buffer

    def on_event(event: dict[str, Any]) -> None:
        if event['type'] in OUTPUT_EVENT_TYPES:
            out.write(event['text'].encode() + b'\n')
            out.flush()

    final = await follow_run(client, run_id, on_event=on_event, **following_notices(cli, reading='the run'))
    cli.err.print(outcome_line(run_id, final))
    return final


async def print_failing_tests(cli: Cli, client: RunboardClient, run_id: str) -> None:
    """After a run that did not succeed, the tests that failed in it and those it fixed (as `runs show` lists them):
    what a person looks for first, without opening the run."""
    try:
        tests = await client.run_tests(run_id)
    except ApiError:
        return  # the run's end is said already; its test report is extra
    failing = artifact_commands.tests_table(tests, limit=10)
    if failing is not None:
        cli.info.print(failing)
