"""What the engine holds about a run it executes on this instance."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

from app.core.workflow_commands import Usage
from app.infra.children import Children
from app.services.execution.limits import Ending, RunCgroup
from app.services.execution.masking import Masker
from app.services.execution.reaper import KillReason

ClaimedRun = dict[str, Any]  # the claimed row joined with its project (see claim.SQL_NEXT_QUEUED)


def new_instance_id() -> str:
    return f'{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}'


@dataclass
class LiveRun:
    run_id: str
    project_id: str
    team_id: str
    process: asyncio.subprocess.Process | None = None
    kill_reason: KillReason = None
    buffer: list[tuple[str, str]] = field(default_factory=list)
    buffered_lines: int = 0
    stored_lines: int = 0  # output lines stored or being stored (counts towards max_output_lines)
    truncated: bool = False
    awaiting_stage: bool = False  # the command started and has printed nothing yet (OutputIngest)
    cutting: bool = False  # inside an over-long line: drop bytes until its end
    bytes_read: int = 0
    output_done: asyncio.Event = field(default_factory=asyncio.Event)
    run: ClaimedRun = field(default_factory=dict)  # the claimed row (kind, issue, repository) for the PR probe
    masker: Masker = field(default_factory=Masker)  # the project's secrets and ::add-mask:: values
    sandboxed: bool = False  # the process is bwrap's: signals go to the run's processes, not to bwrap
    usage: list[Usage] = field(default_factory=list)  # `::usage::` lines read, not stored yet (OutputIngest)
    store_again_at: float = 0.0  # loop time: storing its output failed, the flusher tries again from then
    children: Children = field(default_factory=Children)  # its checkout's git commands: a Stop ends them
    cgroup: RunCgroup | None = None  # its cgroup while it runs: what it used so far is read at each heartbeat
    cgroup_ending: Ending | None = None  # its cgroup at its end: the limits it reached, what it used (limits.py)


class LaunchFailed(Exception):
    """The run's command (or its worktree) could not start: nothing ran."""
