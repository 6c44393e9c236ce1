"""Process-group signalling and leftover-process discovery (Linux /proc)."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path


def kill_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def signal_group_except(pgid: int, sig: int, *, skip_names: set[str]) -> int:
    """Signal every process of group `pgid` but those whose name is in `skip_names`; how many were signalled."""
    sent = 0
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / 'stat').read_text()
        except OSError:
            continue
        name = stat[stat.index('(') + 1 : stat.rindex(')')]
        fields = stat[stat.rindex(')') + 2 :].split()  # state, ppid, pgrp, ...
        if int(fields[2]) != pgid or name in skip_names:
            continue
        try:
            os.kill(int(entry.name), sig)
            sent += 1
        except (ProcessLookupError, PermissionError):
            pass
    return sent


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
    return (
        b'main.py' not in cmdline
        and b'runboard' not in cmdline
        and b'pytest' not in cmdline
        and b'uvicorn' not in cmdline
        and b'app.cli' not in cmdline  # python -m app.cli worker
    )


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


def run_ids_on_this_host() -> set[str]:
    """The run ids that processes on this machine carry in RUNBOARD_RUN_ID."""
    found: set[str] = set()
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / 'environ').read_bytes().split(b'\0')
        except OSError:
            continue
        found.update(v[len(b'RUNBOARD_RUN_ID=') :].decode() for v in environ if v.startswith(b'RUNBOARD_RUN_ID='))
    return found


def process_group_of(pid: int) -> int | None:
    try:
        stat = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return None
    # pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses: split after the last ')'
    fields = stat[stat.rindex(')') + 2 :].split()
    return int(fields[2]) if len(fields) > 2 else None


def kill_run_processes(run_id: str, pgid: int | None = None, *, rounds: int = 5) -> int:
    """SIGKILL every process of a run (found by its RUNBOARD_RUN_ID), and the process groups they are in.

    A group is only signalled when a process of this run is in it, so a recycled pgid is never hit.
    Scans again until nothing is left, in case a process forked between the scan and the kill.
    """
    own_group = os.getpgrp()
    killed: set[int] = set()
    for _ in range(rounds):
        pids = [pid for pid in processes_of_run(run_id) if pid not in killed or _alive(pid)]
        if not pids:
            break
        groups = {group for group in map(process_group_of, pids) if group is not None} - {own_group, 0}
        for group in groups:
            kill_group(group, signal.SIGKILL)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        killed.update(pids)
        time.sleep(0.02)
    return len(killed)


def _alive(pid: int) -> bool:
    try:
        return Path(f'/proc/{pid}/stat').read_text().split(')')[-1].split()[0] not in ('Z', 'X')
    except (OSError, IndexError):
        return False
