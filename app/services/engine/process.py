"""One run's process: its environment, its own process group, the budget, and the kill (TERM, grace,
KILL of the whole group)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import Engine, text

from app.db import session_scope
from app.models import utcnow
from app.services import procs
from app.services.engine.live import ClaimedRun, LaunchFailed, LiveRun
from app.services.output_ingest import OutputIngest
from app.services.reaper import KillReason

DRAIN_AFTER_EXIT_SECONDS = 2.0  # after the exit, keep reading while output still arrives this often ...
DRAIN_AFTER_EXIT_MAX_SECONDS = 30.0  # ... but no longer than this (an escaped process may hold the pipe)
Kill = Callable[[LiveRun, KillReason], Awaitable[None]]


def run_environment(run: ClaimedRun, base: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: the server's, minus its own RUNBOARD_* settings, plus the run's facts."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith('RUNBOARD_')}
    env.update(
        {
            'RUNBOARD_RUN_ID': run['id'],
            'RUNBOARD_PROJECT_ID': run['project_id'],
            'RUNBOARD_BRANCH': run['branch_name'],
            'RUNBOARD_DEPTH_LEVEL': run['depth_level'],
            'RUNBOARD_TARGET_FRAMEWORK': run['target_framework'],
            'PYTHONUNBUFFERED': '1',
        }
    )
    if run.get('issue_number') is not None:
        env['RUNBOARD_ISSUE_NUMBER'] = str(run['issue_number'])
        env['RUNBOARD_ISSUE_TITLE'] = run.get('issue_title') or ''
        env['RUNBOARD_ISSUE_BODY'] = run.get('issue_body') or ''
    return env


async def kill_process_group(live: LiveRun, reason: KillReason, *, grace_seconds: float) -> None:
    """SIGTERM the whole process group, then SIGKILL after the grace period. The first reason wins."""
    if live.kill_reason is None:
        live.kill_reason = reason
    process = live.process
    if process is None or process.returncode is not None:
        return
    procs.kill_group(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(asyncio.shield(process.wait()), timeout=grace_seconds)
    except TimeoutError:
        procs.kill_group(process.pid, signal.SIGKILL)


def record_pid(engine: Engine, run: ClaimedRun, pid: int) -> None:
    with session_scope(engine) as session:
        conn = session.connection()
        conn.execute(text('UPDATE run SET pid = :pid WHERE id = :id'), {'pid': pid, 'id': run['id']})
        if run.get('kind') == 'auto':  # an AFK command started: an earlier launch failure no longer holds
            conn.execute(
                text(
                    'UPDATE project SET launch_error = NULL, launch_error_at = NULL '
                    'WHERE id = :p AND launch_error IS NOT NULL'
                ),
                {'p': run['project_id']},
            )


async def run_process(
    live: LiveRun, run: ClaimedRun, worktree: Path, *, engine: Engine, output: OutputIngest, kill: Kill
) -> int | None:
    """Start the command in the worktree, stream its output, enforce the deadline; the exit code (None if
    it never started because a stop came first)."""
    command = run['command']
    if isinstance(command, str):
        command = json.loads(command)
    if live.kill_reason:  # stopped (or the server is closing) while the worktree was being prepared
        return None
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=worktree,
            env=run_environment(run),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        raise LaunchFailed(f'could not start {command[0]!r}: {exc.strerror or exc}') from exc
    live.process = process
    await asyncio.to_thread(record_pid, engine, run, process.pid)
    if live.kill_reason:  # a stop arrived while the worktree was being prepared
        await kill(live, live.kill_reason)
    assert process.stdout is not None
    readers = {asyncio.create_task(output.read(live, process.stdout))}  # stderr merged: order kept
    remaining = (run['deadline_at'] - utcnow()).total_seconds()
    try:
        await asyncio.wait_for(process.wait(), timeout=max(remaining, 0.01))
    except TimeoutError:
        await kill(live, 'timeout')
        await process.wait()
    # The main process is gone; whatever it left in its group must not outlive the run.
    procs.kill_group(process.pid, signal.SIGKILL)
    await _drain_output(live, readers)
    return process.returncode


async def _drain_output(live: LiveRun, readers: set[asyncio.Task[None]]) -> None:
    pending, seen = readers, -1
    loop = asyncio.get_running_loop()
    give_up = loop.time() + DRAIN_AFTER_EXIT_MAX_SECONDS
    while pending and live.bytes_read != seen and loop.time() < give_up:
        seen = live.bytes_read
        _, pending = await asyncio.wait(pending, timeout=DRAIN_AFTER_EXIT_SECONDS)
    for task in pending:
        task.cancel()
