"""Finding and killing a run's leftover processes through /proc (what recovery relies on)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid

from app.services.execution import procs


def _gone(pid: int) -> bool:
    try:
        state = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0]
    except OSError:
        return True
    return state in ('Z', 'X')


def test_kill_run_processes_kills_marked_processes_and_their_group() -> None:
    run_id = 'run_' + uuid.uuid4().hex
    # A marked shell in its own session, with a child whose environment was wiped (so only its
    # process group ties it to the run).
    leader = subprocess.Popen(
        ['sh', '-c', 'env -i sleep 1000 & echo $!; sleep 1000'],
        stdout=subprocess.PIPE,
        env={**os.environ, 'RUNBOARD_RUN_ID': run_id},
        start_new_session=True,
        text=True,
    )
    unmarked_child = int(leader.stdout.readline())
    bystander = subprocess.Popen(['sleep', '1000'], start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while unmarked_child in procs.processes_of_run(run_id) and time.monotonic() < deadline:
            time.sleep(0.01)  # until the forked shell has become `env -i sleep`
        marked = procs.processes_of_run(run_id)
        assert leader.pid in marked and unmarked_child not in marked  # the shell and its foreground sleep
        assert procs.process_group_of(unmarked_child) == leader.pid
        assert procs.kill_run_processes(run_id) == len(marked)
        leader.wait(timeout=10)
        deadline = time.monotonic() + 10
        while not _gone(unmarked_child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _gone(unmarked_child)
        assert procs.processes_of_run(run_id) == []
        assert bystander.poll() is None  # another group is never touched
    finally:
        for process in (leader, bystander):
            process.kill()
            process.wait()
        if not _gone(unmarked_child):
            os.kill(unmarked_child, 9)
