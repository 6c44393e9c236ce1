"""A run is bounded in memory and process count by a cgroup of its own (docs/security.md): a memory balloon is
ended by the kernel and the run's page says so, a fork bomb stops at the process limit, nothing the run left
outlives it, and the server goes on. On the real engine in this process and on a real `runboard worker`, where this
machine lets Runboard make cgroups; where it does not, the test says why it cannot run here."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from app.services.execution import limits
from tests.helpers.backends import server_env
from tests.helpers.runs import create_project, outputs, shell_script, trigger, wait_for_status
from tests.helpers.servers import api_server, app_process
from tests.helpers.workers import runboard_worker

MEMORY = 64 * 1024**2
PROCESSES = 24
BALLOON = """
echo "before the balloon"
/usr/bin/python3 -c "b = bytearray(400 * 1024 * 1024); print('allocated', len(b))"
"""  # the script's exit is python's: 137, the kernel's SIGKILL
# 40 MiB touched (bytes(n) alone maps zero pages), then a busy loop: what its cgroup counts, and its CPU share
WORKLOAD = """
/usr/bin/python3 -c "
import time
held = bytes(range(256)) * (40 * 4096)
start, cpu = time.monotonic(), time.process_time()
while time.monotonic() - start < 1.5:
    pass
print('share', round((time.process_time() - cpu) / (time.monotonic() - start), 2))
"
"""
# a fork bomb in slow motion: each loop starts a sleeper that outlives the script unless the run's end ends it
SPAWNER = """
setsid sleep {mark} &
( i=0; while [ $i -lt 60 ]; do sleep {mark} & i=$((i+1)); done ) 2>/dev/null
echo "spawned"
exit 0
"""


def _cgroups_here() -> str | None:
    _, problem = limits.find_base(limits.RunLimits(memory_bytes=MEMORY, processes=PROCESSES))
    return problem


def _processes_with(mark: str) -> list[int]:
    found = []
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if mark in (entry / 'cmdline').read_bytes().replace(b'\0', b' ').decode(errors='replace'):
                    found.append(int(entry.name))
    return found


@contextlib.contextmanager
def executing(settings, executor: str, tmp_path: Path):  # noqa: ANN001, ANN202
    with contextlib.ExitStack() as stack:
        if executor == 'celery':
            stack.enter_context(runboard_worker(settings, tmp_path / 'worker-data'))
        yield stack.enter_context(api_server(settings))


@pytest.fixture
def cgroups_writable() -> None:
    if problem := _cgroups_here():
        if os.environ.get('CI'):  # the CI machine makes cgroups: this must run there
            pytest.fail(f'run cgroups cannot be made on this CI machine: {problem}')
        pytest.skip(f'run cgroups cannot be made here: {problem}')


@pytest.mark.usefixtures('cgroups_writable')
@pytest.mark.parametrize(('backend', 'executor'), [('local', 'local'), ('team', 'local'), ('team', 'celery')])
def test_a_run_past_its_memory_limit_fails_and_says_why(backend, executor, settings_factory, repo_factory, tmp_path):  # noqa: ANN001
    settings = settings_factory(executor=executor, run_memory_max=MEMORY)
    repo = repo_factory({'main': shell_script(BALLOON)})
    calm = repo_factory({'main': shell_script('echo still here')})
    with executing(settings, executor, tmp_path) as server, server.client() as client:
        create_project(client, repo)
        create_project(client, calm, project_id='calm')
        about = client.get('/api/about').json()
        done = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        workers = client.get('/api/workers').json()['items']
        # the server (and the worker) went on: the next run executes
        after = wait_for_status(client, trigger(client, 'calm').json()['id'], timeout=60)
    lines = outputs(done)
    assert 'before the balloon' in lines and not any(line.startswith('allocated') for line in lines), lines
    assert (
        done['status'] == 'failed' and done['memory_max_bytes'] == MEMORY and done['peak_memory_bytes'] >= 0.9 * MEMORY
    )
    said = 'the run reached its memory limit (64.0 MiB): the kernel ended a process of it (out of memory)'
    assert done['error'] == said
    assert [e['text'] for e in done['events'] if said in e['text']] == [f'failed: {said}']  # said once, as its end
    assert after['status'] == 'succeeded' and outputs(after) == ['still here']
    if executor == 'local':
        assert about['limits'] == 'memory 64.0 MiB, 4096 processes'
    else:  # the runs executed on the worker: what bounds them is the worker's to say, on the Workers page
        assert about['limits'] == 'each worker its own (the Workers page)'
        [worker] = workers
        assert (worker['sandbox'], worker['limits'], worker['warnings']) == (
            'sandboxed',
            'memory 64.0 MiB, 4096 processes',
            [],
        )


@pytest.mark.usefixtures('cgroups_writable')
@pytest.mark.parametrize('sandbox', ['auto', 'off'])
@pytest.mark.parametrize('backend', ['local'])
def test_a_run_stops_at_its_process_limit_and_leaves_nothing_behind(
    backend, sandbox, settings_factory, repo_factory, tmp_path
) -> None:  # noqa: ANN001
    mark = f'7{time.monotonic_ns() % 10**6}.25'  # a sleep length no other process has
    settings = settings_factory(run_processes_max=PROCESSES, sandbox=sandbox)
    repo = repo_factory({'main': shell_script(SPAWNER.replace('{mark}', mark))})
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        done = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        left = _processes_with(f'sleep {mark}')
    lines = [e['text'] for e in done['events']]
    assert 'spawned' in lines, lines
    assert any(line.startswith(f'the run reached its process limit ({PROCESSES}): ') for line in lines), lines
    # its script exited 0: the run succeeded, and its refused forks are in its log, not its error
    assert done['status'] == 'succeeded' and done['error'] is None
    assert left == [], 'what the run started (a setsid one too) outlived it'


def test_find_base_says_why_when_no_hierarchy_is_mounted() -> None:
    texts = {'/proc/self/cgroup': '0::/\n', '/proc/self/mountinfo': '22 1 0:21 / / rw - ext4 /dev/vda rw\n'}
    base, problem = limits.find_base(limits.RunLimits(memory_bytes=MEMORY, processes=10), read=texts.__getitem__)
    assert base is None
    assert problem == 'no cgroup hierarchy with the memory, pids controller is mounted'


@pytest.mark.usefixtures('cgroups_writable')
@pytest.mark.parametrize(('backend', 'executor'), [('local', 'local'), ('team', 'celery')])
def test_what_a_run_used_is_kept_and_its_cpu_share_holds(
    backend, executor, settings_factory, repo_factory, tmp_path
) -> None:  # noqa: ANN001
    settings = settings_factory(executor=executor, run_memory_max=MEMORY, run_cpus=0.5)
    repo = repo_factory({'main': shell_script(WORKLOAD)})
    with executing(settings, executor, tmp_path) as server, server.client() as client:
        create_project(client, repo)
        done = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        listed = client.get('/api/runs', params={'project': 'proj'}).json()['items']
    assert done['status'] == 'succeeded', (outputs(done), done['error'])
    assert 40 * 1024**2 <= done['peak_memory_bytes'] <= MEMORY
    share = float(next(line for line in outputs(done) if line.startswith('share ')).split()[1])
    assert share <= 0.7, f'a run bounded at 0.5 CPUs used {share} of a core'  # the kernel's quota, not a timing
    assert done['cpu_seconds'] >= 0.3  # the loop's CPU time (at most 0.75 s of its 1.5 s) and python's start
    assert next(r for r in listed if r['id'] == done['id'])['cpu_seconds'] == done['cpu_seconds']  # lists too


def _instance_with_a_run(
    base: limits.CgroupBase, name: str, *, alive: bool
) -> tuple[limits.RunCgroup, subprocess.Popen, int | None]:
    """Another instance's base `name` beside ours, with a run in it (a sleeper), as a server on this machine leaves
    them. Alive: its lock taken first and held (the descriptor returned), as a live one in another PID namespace
    holds it; dead: its lock file made only once its run is in place, so no other process of the suite (each sweeps
    at its start) takes it for dead half made."""
    held = None
    if alive:
        held = os.open(limits.LOCKS_DIR / f'{name}.lock', os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    other = limits.CgroupBase(base.version, {c: d.parent / name for c, d in base.by_controller.items()}, base.limits)
    for d in other.dirs:
        d.mkdir()
    group = other.make('run_left')
    sleeper = subprocess.Popen(group.wrap(['sleep', '300']), start_new_session=True)
    deadline = time.monotonic() + 10
    while str(sleeper.pid) not in (group.dirs[0] / 'cgroup.procs').read_text().split():
        assert time.monotonic() < deadline, 'the sleeper never entered its cgroup'
        time.sleep(0.01)
    if not alive:
        (limits.LOCKS_DIR / f'{name}.lock').touch()
    return group, sleeper, held


@pytest.mark.usefixtures('cgroups_writable')
def test_what_a_killed_server_left_in_its_run_cgroups_is_ended_by_the_next_start() -> None:
    bounds = limits.RunLimits(processes=PROCESSES)
    base, _ = limits.find_base(bounds)
    assert base is not None
    dead, alive = f'runboard-1-dead{os.getpid()}', f'runboard-1-alive{os.getpid()}'
    dead_run, dead_sleeper, _ = _instance_with_a_run(base, dead, alive=False)
    alive_run, alive_sleeper, held = _instance_with_a_run(base, alive, alive=True)
    assert held is not None
    try:
        limits.find_base(bounds)  # what a server or worker starting on this machine does
        assert dead_sleeper.wait(timeout=10) == -signal.SIGKILL
        assert not any(d.exists() for d in dead_run.dirs)
        assert alive_sleeper.poll() is None and all(d.exists() for d in alive_run.dirs)
    finally:
        os.close(held)
        for sleeper in (dead_sleeper, alive_sleeper):
            sleeper.kill()
            sleeper.wait()
        limits.find_base(bounds)  # the live one's turn to go: its lock is free now
        assert not any(d.exists() for d in alive_run.dirs)


ESCAPER = """
for f in /sys/fs/cgroup/*/cgroup.procs; do echo $$ > "$f" 2>/dev/null; done
setsid sleep {mark} &
echo "left"
"""


@pytest.mark.usefixtures('cgroups_writable')
@pytest.mark.parametrize('backend', ['local'])
def test_an_unsandboxed_run_that_leaves_its_cgroup_still_leaves_nothing_behind(
    backend, settings_factory, repo_factory
) -> None:  # noqa: ANN001
    """Unsandboxed (as root) a run can write itself out of its cgroup: what it started is still ended with it, by the
    run's id in its environment. A missing command is still a launch failure, not the cgroup `sh`'s exit 127."""
    mark = f'8{time.monotonic_ns() % 10**6}.25'
    settings = settings_factory(sandbox='off')
    repo = repo_factory({'main': shell_script(ESCAPER.replace('{mark}', mark))})
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        create_project(client, repo, project_id='missing', command=['./missing.sh'])
        done = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        missing = wait_for_status(client, trigger(client, 'missing').json()['id'], timeout=60)
        left = _processes_with(f'sleep {mark}')
    assert done['status'] == 'succeeded' and outputs(done) == ['left']
    assert left == []
    assert missing['status'] == 'failed' and outputs(missing) == []
    assert missing['error'] == "launch_failed: could not start './missing.sh': not found, or not executable"


@pytest.mark.usefixtures('cgroups_writable')
@pytest.mark.parametrize('backend', ['local'])
@pytest.mark.parametrize(
    'deployment',
    [{'run_memory_max': 1024**3}, {'run_processes_max': 0}],  # 1 GiB; or an executor that bounds nothing itself
    ids=['under-1GiB', 'executor-unbounded'],
)
def test_a_projects_own_memory_limit_bounds_its_runs(backend, deployment, settings_factory, repo_factory) -> None:  # noqa: ANN001
    settings = settings_factory(**deployment)
    repo = repo_factory({'main': shell_script(BALLOON)})
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        client.patch('/api/projects/proj', json={'run_memory_max': MEMORY}).raise_for_status()
        done = wait_for_status(client, trigger(client).json()['id'], timeout=60)
    assert done['status'] == 'failed' and done['memory_max_bytes'] == MEMORY
    assert done['error'].startswith('the run reached its memory limit (64.0 MiB)')


@pytest.mark.usefixtures('cgroups_writable')
@pytest.mark.parametrize(('backend', 'executor'), [('local', 'local'), ('team', 'celery')])
def test_a_projects_own_cpu_limit_bounds_its_runs_where_the_deployment_sets_none(
    backend, executor, settings_factory, repo_factory, tmp_path
) -> None:  # noqa: ANN001
    settings = settings_factory(executor=executor)  # no RUNBOARD_RUN_CPUS: a project may set any
    repo = repo_factory({'main': shell_script(WORKLOAD)})
    with executing(settings, executor, tmp_path) as server, server.client() as client:
        create_project(client, repo)
        client.patch('/api/projects/proj', json={'run_cpus': 0.1}).raise_for_status()
        done = wait_for_status(client, trigger(client).json()['id'], timeout=60)
    assert done['status'] == 'succeeded', (outputs(done), done['error'])
    share = float(next(line for line in outputs(done) if line.startswith('share ')).split()[1])
    assert share <= 0.2, f'a run bounded at 0.1 CPUs by its project used {share} of a core'


@pytest.mark.usefixtures('cgroups_writable')
def test_a_run_cgroup_gets_its_own_cpu_quota_beside_the_executors_limits() -> None:
    base, _ = limits.find_base(limits.RunLimits(processes=PROCESSES))  # the executor bounds no CPU itself
    assert base is not None and 'cpu' in base.by_controller  # made anyway, for a project's own limit
    own = base.make('run_quota', cpus=0.25)
    plain = base.make('run_plain')
    try:
        cpu = own.by_controller['cpu']
        quota = (
            (cpu / 'cpu.max').read_text().split()[0] if base.version == 2 else (cpu / 'cpu.cfs_quota_us').read_text()
        )
        assert int(quota) == 25_000  # a quarter of each 100 ms period
        if base.version == 1:  # no cpu cgroup at all without a limit: it would have no real-time budget
            assert 'cpu' not in plain.by_controller
        else:
            assert (plain.by_controller['cpu'] / 'cpu.max').read_text().split()[0] == 'max'
    finally:
        own.end()
        plain.end()


REAL_TIME = """
chrt -f 1 sh -c 'echo "real-time $(chrt -p $$ | head -1 | cut -d: -f2)"'
"""


@pytest.mark.usefixtures('cgroups_writable')
@pytest.mark.parametrize('backend', ['local'])
def test_an_unsandboxed_run_without_a_cpu_limit_keeps_real_time_priority(
    backend, settings_factory, repo_factory
) -> None:  # noqa: ANN001
    """A run's cgroup in the v1 cpu hierarchy would have no real-time budget: an unsandboxed run on a server that
    may use real-time priority (root) keeps it, unless its CPU is bounded."""
    if subprocess.run(['chrt', '-f', '1', 'true'], capture_output=True).returncode != 0:
        why = 'this test process may not use real-time priority (chrt -f 1, as root)'
        pytest.fail(why) if os.environ.get('CI') else pytest.skip(why)
    settings = settings_factory(sandbox='off')
    repo = repo_factory({'main': shell_script(REAL_TIME)})
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        done = wait_for_status(client, trigger(client).json()['id'], timeout=60)
    assert done['status'] == 'succeeded', (outputs(done), done['error'])
    assert outputs(done) == ['real-time  SCHED_FIFO']


def _bases_of(pid: int) -> list[Path]:
    own = limits.own_cgroups(Path('/proc/self/cgroup').read_text(), Path('/proc/self/mountinfo').read_text())
    return [d for parent in set(own.values()) for d in parent.glob(f'runboard-{pid}-*')]


@pytest.mark.usefixtures('cgroups_writable')
@pytest.mark.parametrize('backend', ['local'])
def test_a_server_stopped_by_sigterm_leaves_no_cgroup_behind(backend, settings_factory, repo_factory) -> None:  # noqa: ANN001
    """`python main.py` as a service manager stops it: its runs' cgroups and its own base are gone with it, not left
    for the next start on the machine to sweep (uvicorn re-raises SIGTERM after its shutdown, which skips atexit)."""
    settings = settings_factory(run_memory_max=MEMORY)
    repo = repo_factory({'main': shell_script('echo bounded')})
    with app_process(settings.data_dir, env=server_env(settings)) as server:
        token = json.loads((settings.data_dir / 'credentials.json').read_text())['token']
        headers = {'Authorization': f'Bearer {token}'}
        with httpx.Client(base_url=server['url'], headers=headers, timeout=30) as client:
            create_project(client, repo)
            done = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        assert done['status'] == 'succeeded' and done['memory_max_bytes'] == MEMORY
        pid = server['process'].pid
        assert _bases_of(pid), 'the server made no cgroup base'
        server['process'].terminate()
        server['process'].wait(timeout=30)
    assert _bases_of(pid) == []


HOLDER = """
/usr/bin/python3 -c "
import pathlib, time
held = bytes(range(256)) * (40 * 4096)
print('holding', flush=True)
while not pathlib.Path('{release}').exists():
    time.sleep(0.05)
"
"""


def _usage_events(stream_lines, run_id: str):  # noqa: ANN001, ANN202
    event = None
    for line in stream_lines:
        if line.startswith('event: '):
            event = line[7:]
        elif line.startswith('data: ') and event == 'run.usage':
            payload = json.loads(line[6:])
            if payload['id'] == run_id:
                yield payload


@pytest.mark.usefixtures('cgroups_writable')
@pytest.mark.parametrize(('backend', 'executor'), [('local', 'local'), ('team', 'celery')])
def test_what_a_run_uses_is_told_while_it_runs(backend, executor, settings_factory, repo_factory, tmp_path) -> None:  # noqa: ANN001
    """A long build's page shows its memory against its limit before the kernel ends it: each heartbeat stores what
    the run used so far and says it on the event stream (`run.usage`); its end's figures are the final ones."""
    release = tmp_path / 'gates' / 'release'  # in a folder the sandbox shows read-only (its /tmp is private)
    release.parent.mkdir()
    settings = settings_factory(
        executor=executor, run_memory_max=1024**3, heartbeat_seconds=0.5, sandbox_read_only_paths=str(release.parent)
    )
    repo = repo_factory({'main': shell_script(HOLDER.replace('{release}', str(release)))})
    with executing(settings, executor, tmp_path) as server, server.client() as client:
        create_project(client, repo)
        with client.stream('GET', '/api/events', timeout=httpx.Timeout(30, read=20)) as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith(':')  # subscribed
            run_id = trigger(client).json()['id']
            for said in _usage_events(lines, run_id):
                if (said['peak_memory_bytes'] or 0) >= 40 * 1024**2:
                    break
        assert said['memory_max_bytes'] == 1024**3 and said['cpu_seconds'] > 0
        assert said['project_id'] == 'proj' and said['team_id']
        running = client.get(f'/api/runs/{run_id}', params={'events_limit': 0}).json()
        assert running['status'] == 'running' and running['peak_memory_bytes'] >= 40 * 1024**2
        assert running['memory_max_bytes'] == 1024**3
        release.touch()
        done = wait_for_status(client, run_id, timeout=60)
    assert done['status'] == 'succeeded', (outputs(done), done['error'])
    assert done['peak_memory_bytes'] >= running['peak_memory_bytes'] and done['cpu_seconds'] >= said['cpu_seconds']
