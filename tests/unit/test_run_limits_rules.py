"""The run limits' pure decisions (app/services/execution/limits.py): where this process's cgroups are, what the
policy is for each setting, and what a run's page says it hit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.services.execution.execution import limit_error
from app.services.execution.limits import (
    RunLimits,
    Verdict,
    _v2_base,
    breaches_of,
    decide,
    find_base,
    in_hierarchies,
    own_cgroups,
    project_limit_refusal,
    run_limit,
    unheld_limits_refusal,
)

# A hybrid host (this suite's CI machine): v1 hierarchies per controller, an empty v2 beside them.
HYBRID_MOUNTS = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_CGROUP = """\
9:name=systemd:/
8:pids:/
4:memory:/process_api/774d
1:cpu,cpuacct:/svc
0::/
"""
# A systemd host on v2 only, the server a unit.
V2_MOUNTS = '30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n'
V2_CGROUP = '0::/system.slice/runboard.service\n'
# A container: its cgroup namespace shows the v2 hierarchy from the container's own cgroup.
CONTAINER_MOUNTS = '700 690 0:26 /docker/abc /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw\n'


@pytest.mark.parametrize(
    ('cgroup', 'mounts', 'expected'),
    [
        (
            HYBRID_CGROUP,
            HYBRID_MOUNTS,
            {
                'pids': Path('/sys/fs/cgroup/pids'),
                'memory': Path('/sys/fs/cgroup/memory/process_api/774d'),
                'cpu': Path('/sys/fs/cgroup/cpu,cpuacct/svc'),
                'cpuacct': Path('/sys/fs/cgroup/cpu,cpuacct/svc'),
                'name=systemd': Path('/sys/fs/cgroup/systemd'),
                'unified': Path('/sys/fs/cgroup/unified'),
            },
        ),
        (V2_CGROUP, V2_MOUNTS, {'unified': Path('/sys/fs/cgroup/system.slice/runboard.service')}),
        ('0::/docker/abc/app\n', CONTAINER_MOUNTS, {'unified': Path('/sys/fs/cgroup/app')}),
        ('0::/elsewhere\n', CONTAINER_MOUNTS, {}),  # a cgroup outside what is mounted here
        ('0::/\n', '22 1 0:21 / / rw - ext4 /dev/vda rw\n', {}),  # nothing mounted
        (
            '0::/a b\n',
            '30 23 0:26 / /srv/cg\\040root rw - cgroup2 cgroup2 rw\n',  # the kernel's escape of a space
            {'unified': Path('/srv/cg root/a b')},
        ),
    ],
    ids=['hybrid', 'v2 unit', 'container', 'outside the mount', 'none', 'a space in the mount point'],
)
def test_own_cgroups(cgroup: str, mounts: str, expected: dict[str, Path]) -> None:
    assert own_cgroups(cgroup, mounts) == expected


BOUNDED = RunLimits(memory_bytes=2 * 1024**3, processes=4096, cpus=1.5)
DEFAULT = RunLimits(processes=4096)


@pytest.mark.parametrize(
    ('setting', 'limits', 'problem', 'asked', 'enforced', 'refuses', 'warns', 'shown'),
    [
        ('auto', BOUNDED, None, True, True, False, False, 'memory 2.0 GiB, 4096 processes, 1.5 CPUs'),
        ('on', BOUNDED, None, True, True, False, False, 'memory 2.0 GiB, 4096 processes, 1.5 CPUs'),
        ('auto', BOUNDED, 'read-only', True, False, False, True, 'none (read-only)'),
        ('on', BOUNDED, 'read-only', True, False, True, False, 'none (read-only)'),
        # only the default process limit, which cannot hold on, say, a desktop session: said in /api/about only
        ('auto', DEFAULT, 'shared scope', False, False, False, False, 'none (shared scope)'),
        ('off', BOUNDED, None, True, False, False, False, 'none'),
        ('auto', RunLimits(), None, False, False, False, False, 'none'),  # nothing asked (processes 0)
    ],
)
def test_decide(
    setting: str,
    limits: RunLimits,
    problem: str | None,
    asked: bool,
    enforced: bool,
    refuses: bool,
    warns: bool,
    shown: str,
) -> None:
    verdict = decide(setting, limits, problem=problem, asked_beyond_default=asked)  # type: ignore[arg-type]
    assert (verdict.enforced, verdict.refusal is not None, verdict.warning is not None) == (enforced, refuses, warns)
    assert verdict.describe() == shown
    if verdict.refusal:
        assert problem in verdict.refusal and 'RUNBOARD_RUN_LIMITS=on' in verdict.refusal


def test_a_refusal_names_the_limits_and_why() -> None:
    verdict = decide(
        'on', BOUNDED, problem='no cgroup hierarchy with the memory controller is mounted', asked_beyond_default=True
    )
    assert verdict == Verdict(
        BOUNDED,
        enforced=False,
        refusal=(
            'runs cannot be bounded here (memory 2.0 GiB, 4096 processes, 1.5 CPUs): no cgroup hierarchy with the '
            'memory controller is mounted; RUNBOARD_RUN_LIMITS=on refuses to run them unbounded (docs/security.md)'
        ),
        why_not='no cgroup hierarchy with the memory controller is mounted',
        required=True,
    )


@pytest.mark.parametrize(
    ('oom', 'refused', 'said'),
    [
        (0, 0, []),
        (1, 0, ['the run reached its memory limit (2.0 GiB): the kernel ended a process of it (out of memory)']),
        (3, 0, ['the run reached its memory limit (2.0 GiB): the kernel ended 3 processes of it (out of memory)']),
        (0, 1, ['the run reached its process limit (4096): a new process was refused']),
        (
            2,
            40,
            [
                'the run reached its memory limit (2.0 GiB): the kernel ended 2 processes of it (out of memory)',
                'the run reached its process limit (4096): 40 new processes were refused',
            ],
        ),
    ],
)
def test_what_a_run_hit(oom: int, refused: int, said: list[str]) -> None:
    assert breaches_of(BOUNDED, oom_kills=oom, fork_refusals=refused) == said


@pytest.mark.parametrize(
    ('limits', 'shown'),
    [
        (RunLimits(memory_bytes=512 * 1024**2), 'memory 512.0 MiB'),
        (RunLimits(processes=100, cpus=1), '100 processes, 1 CPU'),
        (RunLimits(cpus=0.5), '0.5 CPUs'),
        (RunLimits(), 'none'),
    ],
)
def test_describe(limits: RunLimits, shown: str) -> None:
    assert limits.describe() == shown


@pytest.mark.parametrize(
    ('exit_code', 'error'),
    [
        (137, 'the run reached its memory limit (2.0 GiB): ...'),  # the shell said 128 + SIGKILL
        (-9, 'the run reached its memory limit (2.0 GiB): ...'),  # killed itself
        (3, 'exit code 3, after the run reached its memory limit (2.0 GiB): ...'),  # it went on, then failed
    ],
)
def test_a_failed_runs_error_at_a_limit(exit_code: int, error: str) -> None:
    assert limit_error(exit_code, ['the run reached its memory limit (2.0 GiB): ...']) == error


GIB = 1024**3


@pytest.mark.parametrize(
    ('asked', 'deployment', 'allowed', 'refused', 'gets'),
    [
        (None, 2 * GIB, None, None, 2 * GIB),  # the project asks nothing: the deployment's
        (None, None, None, None, None),  # nobody asks: unbounded in memory
        (GIB, 2 * GIB, None, None, GIB),  # lower: always
        (4 * GIB, 2 * GIB, None, 'lower', 2 * GIB),  # higher without an allowance: refused (a worker caps it)
        (4 * GIB, 2 * GIB, 8 * GIB, None, 4 * GIB),  # higher within RUNBOARD_RUN_MEMORY_MAX_ALLOWED
        (16 * GIB, 2 * GIB, 8 * GIB, 'allowed', 8 * GIB),  # past it
        (16 * GIB, None, None, None, 16 * GIB),  # no limit anywhere: any
    ],
)
def test_a_projects_memory_limit(asked, deployment, allowed, refused, gets) -> None:  # noqa: ANN001
    reason = project_limit_refusal('RUNBOARD_RUN_MEMORY_MAX', asked, deployment=deployment, allowed=allowed)
    if refused == 'lower':
        assert reason == (
            "at most 2.0 GiB, the deployment's RUNBOARD_RUN_MEMORY_MAX: a project may lower it; "
            'RUNBOARD_RUN_MEMORY_MAX_ALLOWED lets projects ask for more'
        )
    elif refused == 'allowed':
        assert reason == 'at most 8.0 GiB on this deployment (RUNBOARD_RUN_MEMORY_MAX_ALLOWED)'
    else:
        assert reason is None
    assert run_limit(asked, deployment=deployment, allowed=allowed) == gets


@pytest.mark.parametrize(
    ('asked', 'deployment', 'allowed', 'reason', 'gets'),
    [
        (None, 1.5, None, None, 1.5),
        (0.5, 1.5, None, None, 0.5),  # lower: always
        (0.5, None, None, None, 0.5),  # no CPU limit anywhere: any
        (
            4.0,
            1.0,
            None,
            "at most 1 CPU, the deployment's RUNBOARD_RUN_CPUS: a project may lower it; RUNBOARD_RUN_CPUS_ALLOWED "
            'lets projects ask for more',
            1.0,
        ),
        (4.0, 1.5, 4.0, None, 4.0),  # within RUNBOARD_RUN_CPUS_ALLOWED
        (8.0, 1.5, 4.0, 'at most 4 CPUs on this deployment (RUNBOARD_RUN_CPUS_ALLOWED)', 4.0),
    ],
)
def test_a_projects_cpu_limit(asked, deployment, allowed, reason, gets) -> None:  # noqa: ANN001
    assert project_limit_refusal('RUNBOARD_RUN_CPUS', asked, deployment=deployment, allowed=allowed) == reason
    assert run_limit(asked, deployment=deployment, allowed=allowed) == gets


def _v2_cgroup(tmp_path: Path, controllers: str) -> Path:
    own = tmp_path / 'runboard.service'
    own.mkdir()
    (own / 'cgroup.controllers').write_text(controllers + '\n')
    (own / 'cgroup.subtree_control').write_text('')
    (own / 'cgroup.procs').write_text(f'{os.getpid()}\n')
    return own


@pytest.mark.parametrize(
    ('controllers', 'optional', 'enabled'),
    [
        ('cpuset cpu io memory pids', True, '+pids +memory +cpu'),  # measured and a project's own limits written
        ('cpuset cpu io memory pids', False, '+pids'),  # the fallback when those cannot be enabled
        ('io pids', True, '+pids'),  # nothing optional delegated: the limits alone
    ],
)
def test_a_v2_base_enables_what_its_runs_need(tmp_path: Path, controllers: str, optional: bool, enabled: str) -> None:
    """A delegated cgroup v2 (a systemd unit with Delegate=yes) as a directory tree: what the base enables for its
    children, in the unit's cgroup and its own."""
    own = _v2_cgroup(tmp_path, controllers)
    base = _v2_base(own, ('pids',), 'runboard-1-ab', RunLimits(processes=24), optional=optional)
    assert (own / 'cgroup.subtree_control').read_text() == enabled
    assert (own / 'runboard-1-ab' / 'cgroup.subtree_control').read_text() == enabled
    assert base.version == 2 and set(base.by_controller) == {c.lstrip('+') for c in enabled.split()}


V1 = {c: Path(f'/sys/fs/cgroup/{c}/runboard-1-ab') for c in ('memory', 'pids', 'cpuacct', 'cpu')}
CO_MOUNTED = {'memory': V1['memory'], 'cpu': Path('/sys/fs/cgroup/cpu,cpuacct/runboard-1-ab')}
CO_MOUNTED['cpuacct'] = CO_MOUNTED['cpu']


@pytest.mark.parametrize(
    ('by_controller', 'version', 'cpu_limited', 'real_time_grouped', 'joined'),
    [
        (V1, 1, True, True, {'memory', 'pids', 'cpuacct', 'cpu'}),
        (V1, 1, False, True, {'memory', 'pids', 'cpuacct'}),  # its CPU time still measured in cpuacct's own hierarchy
        (V1, 1, False, False, {'memory', 'pids', 'cpuacct', 'cpu'}),  # no real-time budget to lose on this kernel
        (CO_MOUNTED, 1, False, True, {'memory'}),  # cpuacct is the cpu hierarchy there: real-time priority first
        (CO_MOUNTED, 1, False, False, {'memory', 'cpu', 'cpuacct'}),
        (CO_MOUNTED, 1, True, True, {'memory', 'cpu', 'cpuacct'}),
        (dict.fromkeys(('memory', 'cpu'), V1['memory']), 2, False, True, {'memory', 'cpu'}),  # v2: one directory
    ],
)
def test_a_run_joins_the_cpu_hierarchy_only_for_a_cpu_limit(
    by_controller: dict[str, Path], version: int, cpu_limited: bool, real_time_grouped: bool, joined: set[str]
) -> None:
    where = in_hierarchies(by_controller, version=version, cpu_limited=cpu_limited, real_time_grouped=real_time_grouped)
    assert set(where) == joined


@pytest.mark.parametrize(
    ('setting', 'executor', 'problem', 'held', 'memory', 'cpus', 'refused'),
    [
        ('on', RunLimits(), 'read-only', (), 64 * 1024**2, None, 'memory 64.0 MiB'),
        ('on', RunLimits(), None, (), None, 0.5, '0.5 CPUs'),
        ('on', RunLimits(), 'read-only', (), None, None, None),  # the project bounds nothing: nothing to refuse
        ('auto', RunLimits(), 'read-only', (), 64 * 1024**2, None, None),  # starts unbounded; its page says no limit
        ('off', RunLimits(), None, (), 64 * 1024**2, 1.0, None),
        # the executor's own process limit holds, but its cgroups get no memory controller here (v2, not delegated)
        ('on', DEFAULT, None, ('pids',), 64 * 1024**2, None, 'no memory controller'),
        ('auto', DEFAULT, None, ('pids',), 64 * 1024**2, None, None),
        ('on', DEFAULT, None, ('pids', 'memory'), 64 * 1024**2, None, None),  # held
    ],
)
def test_a_projects_limit_where_it_cannot_be_held(setting, executor, problem, held, memory, cpus, refused) -> None:  # noqa: ANN001
    """An executor that bounds nothing itself (RUNBOARD_RUN_PROCESSES_MAX=0, no memory or CPU limit) still makes
    cgroups for a project's own limits; where it cannot hold one, RUNBOARD_RUN_LIMITS=on refuses such a run, naming
    why."""
    verdict = decide(setting, executor, problem=problem, asked_beyond_default=False)
    said = unheld_limits_refusal(verdict, memory_bytes=memory, cpus=cpus, held=held)
    if refused is None:
        assert said is None
    else:
        assert said is not None and refused in said and 'RUNBOARD_RUN_LIMITS=on' in said
        assert problem is None or problem in said


def test_an_executor_that_bounds_nothing_itself_makes_a_v2_base_for_a_projects_limits(tmp_path: Path) -> None:
    """RUNBOARD_RUN_PROCESSES_MAX=0 and no memory or CPU setting on a cgroup v2 machine (a delegated unit, as a
    directory tree): the base enables memory and cpu, which a project's own limits need, rather than nothing."""
    own = _v2_cgroup(tmp_path, 'cpuset cpu io memory pids')
    texts = {
        '/proc/self/cgroup': '0::/runboard.service\n',
        '/proc/self/mountinfo': f'30 1 0:26 / {tmp_path} rw - cgroup2 cgroup2 rw\n',
    }
    base, problem = find_base(RunLimits(), read=texts.__getitem__)
    assert problem is None and base is not None
    assert base.version == 2 and set(base.by_controller) == {'memory', 'cpu'}
    assert (own / 'cgroup.subtree_control').read_text() == '+memory +cpu'
