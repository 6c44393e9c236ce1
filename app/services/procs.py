"""Process-group signalling and leftover-process discovery (Linux /proc)."""
from __future__ import annotations

import os
import signal
import socket
from pathlib import Path


def kill_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def owner_is_dead(owner: str | None) -> bool:
    """An owner id is host:pid:nonce. On this host we can tell for sure whether its pid is alive."""
    if not owner:
        return True
    parts = owner.split(':')
    if len(parts) < 2 or parts[0] != socket.gethostname():
        return False  # another host: only its heartbeat can tell
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return int(parts[1]) != os.getpid() and _pid_is_not_runboard(int(parts[1]))


def _pid_is_not_runboard(pid: int) -> bool:
    """A recycled pid belongs to some other program."""
    try:
        cmdline = Path(f'/proc/{pid}/cmdline').read_bytes()
    except OSError:
        return True
    return b'main.py' not in cmdline and b'runboard' not in cmdline and b'pytest' not in cmdline \
        and b'uvicorn' not in cmdline


def processes_of_run(run_id: str) -> list[int]:
    """Pids whose environment carries RUNBOARD_RUN_ID=<run_id>."""
    marker = f'RUNBOARD_RUN_ID={run_id}'.encode()
    found = []
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / 'environ').read_bytes().split(b'\0'):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def kill_run_processes(run_id: str, pgid: int | None) -> int:
    pids = processes_of_run(run_id)
    if pgid and pgid in pids:
        kill_group(pgid, signal.SIGKILL)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(pids)
