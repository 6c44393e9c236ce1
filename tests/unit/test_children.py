"""Commands a periodic job's task starts end with their owner (app/infra/children.py): a stopping server does not
wait for a command that waits on something that never answers, and leaves none of it running."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest

from app.infra import children
from app.infra.children import Children, ChildStopped

# a shell that starts a grandchild holding the pipes, as git does with git-remote-http; it writes the grandchild's
# pid where the test can find it
HOLDING = 'sleep 60 & echo $! > "$1"; wait'


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f'/proc/{pid}/stat').read_text().split()[2] if Path(f'/proc/{pid}/stat').exists() else 'X'
    return status not in ('Z', 'X')


def gone(pid: int) -> bool:
    """Whether the process ended: a killed process closes its pipes a moment before it is a zombie (or reaped), so
    the test waits for that moment rather than racing it."""
    deadline = time.monotonic() + 10
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def wait_for_file(path: Path) -> int:
    deadline = time.monotonic() + 10
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return int(path.read_text())


def run_in_thread(owner: Children | None, argv: list[str]) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def work() -> None:
        try:
            if owner is None:
                outcome['done'] = children.run(argv, cwd=None, env=None, timeout=120)
            else:
                with owner.scope():
                    outcome['done'] = children.run(argv, cwd=None, env=None, timeout=120)
        except Exception as exc:  # noqa: BLE001 - the test reads what was raised
            outcome['raised'] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, outcome


def test_ending_the_owner_ends_its_commands_and_their_children(tmp_path: Path) -> None:
    owner = Children()
    thread, outcome = run_in_thread(owner, ['sh', '-c', HOLDING, 'sh', str(tmp_path / 'pid')])
    grandchild = wait_for_file(tmp_path / 'pid')
    owner.end_all()
    thread.join(10)
    assert not thread.is_alive()
    assert isinstance(outcome.get('raised'), ChildStopped)
    assert gone(grandchild)


def test_a_command_outside_any_scope_is_not_ended_by_an_owner(tmp_path: Path) -> None:
    owner = Children()
    thread, outcome = run_in_thread(None, ['sh', '-c', 'while [ ! -e "$1" ]; do sleep 0.05; done; echo done', 'sh',
                                           str(tmp_path / 'go')])  # fmt: skip
    time.sleep(0.2)
    owner.end_all()
    (tmp_path / 'go').touch()
    thread.join(10)
    assert outcome['done'].returncode == 0 and outcome['done'].stdout == 'done\n'


def test_an_owner_that_ended_starts_nothing(tmp_path: Path) -> None:
    owner = Children()
    owner.end_all()
    with owner.scope(), pytest.raises(ChildStopped):
        children.run(['touch', str(tmp_path / 'ran')], cwd=None, env=None, timeout=10)
    assert not (tmp_path / 'ran').exists()


def test_a_command_in_a_scope_answers_as_subprocess_run_does(tmp_path: Path) -> None:
    with Children().scope():
        done = children.run(['sh', '-c', 'echo out; echo err >&2; exit 3'], cwd=tmp_path, env=None, timeout=10)
    assert (done.returncode, done.stdout, done.stderr) == (3, 'out\n', 'err\n')


def test_a_timeout_ends_the_whole_group(tmp_path: Path) -> None:
    with Children().scope(), pytest.raises(subprocess.TimeoutExpired):
        children.run(['sh', '-c', HOLDING, 'sh', str(tmp_path / 'pid')], cwd=None, env=None, timeout=1)
    assert gone(int((tmp_path / 'pid').read_text()))


def test_a_wait_gives_up_once_its_owner_ended() -> None:
    owner = Children()
    with owner.scope():
        children.raise_if_stopped()  # not ended: the wait goes on
        owner.end_all()
        with pytest.raises(ChildStopped):
            children.raise_if_stopped()
    children.raise_if_stopped()  # outside the scope no owner ends it
