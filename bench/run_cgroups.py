"""What a cgroup per run costs (app/services/execution/limits.py): making a run's cgroup with its limits, starting a
trivial program through the `sh` that puts it there, then reading what it hit and used and removing the cgroup,
against starting the same program alone. Prints figures; asserts nothing.

    python bench/run_cgroups.py [--runs 200] [--memory 1GiB] [--processes 4096] [--cpus 0]

Needs a machine where this process can make cgroups (docs/security.md); it says why not otherwise.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

from pydantic import ByteSize, TypeAdapter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from app.services.execution import limits  # noqa: E402


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--runs', type=int, default=200)
    parser.add_argument('--memory', default='', help='RUNBOARD_RUN_MEMORY_MAX, e.g. 1GiB (default: none)')
    parser.add_argument('--processes', type=int, default=4096, help='RUNBOARD_RUN_PROCESSES_MAX (0: none)')
    parser.add_argument('--cpus', type=float, default=0, help='RUNBOARD_RUN_CPUS (0: none)')
    args = parser.parse_args()
    memory = int(TypeAdapter(ByteSize).validate_python(args.memory)) if args.memory else None
    bounds = limits.RunLimits(memory_bytes=memory, processes=args.processes or None, cpus=args.cpus or None)
    base, problem = limits.find_base(bounds)
    if base is None:
        print(f'run cgroups cannot be made here: {problem}')
        return
    hierarchies = ', '.join(f'{c} ({d.parent})' for c, d in base.by_controller.items())
    print(f'limits: {bounds.describe()}; cgroup v{base.version}: {hierarchies}')
    for label in ('alone', 'in its cgroup'):
        wall, cpu = time.perf_counter(), cpu_seconds()
        for n in range(args.runs):
            group = base.make(f'bench-{n}') if label != 'alone' else None
            argv = ['/bin/true']
            subprocess.run(group.wrap(argv) if group else argv, check=True)
            if group is not None:
                group.end()
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        print(f'{label:>14}: {wall / args.runs * 1000:.2f} ms wall, {cpu / args.runs * 1000:.2f} ms CPU a run')


if __name__ == '__main__':
    main()
