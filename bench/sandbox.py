"""What the run sandbox costs: spawn -> first output line, sandboxed and not, through the engine's own argv and
environment (app/services/execution/process.py's Confinement), on a checkout like a run's. Prints figures only.

    python bench/sandbox.py [--rounds 300]

The two ways alternate round by round, so both see the same machine. The time is from the call that starts
the process to the first line read from its stdout pipe, as the engine reads it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.services.execution import sandbox  # noqa: E402
from app.services.execution.environment import run_environment  # noqa: E402
from app.services.execution.process import Confinement  # noqa: E402

RUN = {'id': 'run_bench', 'project_id': 'bench', 'branch_name': 'main', 'depth_level': 'd', 'target_framework': 'f'}


def checkout(root: Path) -> Path:
    """A mirror and a checkout sharing its objects, as the engine makes them."""
    source, mirror, work = root / 'source', root / 'data' / 'mirrors' / 'm.git', root / 'data' / 'worktrees' / 'r'
    source.mkdir(parents=True)
    (source / 'run.sh').write_text('#!/bin/sh\necho first\n')
    ident = ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid']
    for args in (['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-q', '-m', 'bench']):
        subprocess.run(['git', *ident, *args], cwd=source, check=True)
    subprocess.run(['git', 'clone', '-q', '--mirror', str(source), str(mirror)], check=True)
    subprocess.run(['git', 'clone', '-q', '--shared', str(mirror), str(work)], check=True)
    return work


async def first_line(confinement: Confinement, work: Path) -> float:
    env = run_environment(RUN, home=confinement.home(), workdir=str(work))
    started = time.perf_counter()
    process = await confinement.start(['sh', 'run.sh'], work, 'default', env)
    assert process.stdout is not None
    line = await process.stdout.readline()
    took = time.perf_counter() - started
    await process.wait()
    assert line.strip() == b'first', line
    return took


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--rounds', type=int, default=300)
    args = parser.parse_args()
    problem = sandbox.bwrap_problem()
    if problem:
        sys.exit(f'the sandbox cannot start here: {problem}')
    root = Path(tempfile.mkdtemp(prefix='rb-sandbox-bench-'))
    work = checkout(root)
    ways = {
        'unsandboxed': Confinement(sandbox.Verdict(False), data_dir=root / 'data'),
        'sandboxed': Confinement(sandbox.Verdict(True), data_dir=root / 'data'),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for confinement in ways.values():  # warm-up
        await first_line(confinement, work)
    for _ in range(args.rounds):
        for name, confinement in ways.items():
            times[name].append(await first_line(confinement, work))
    print(f'spawn -> first output line, {args.rounds} rounds each, alternating:')
    for name, values in times.items():
        median, p99 = statistics.median(values) * 1000, percentile(values, 0.99) * 1000
        print(f'  {name:12} median {median:6.2f} ms   p99 {p99:6.2f} ms')
    added = statistics.median(times['sandboxed']) - statistics.median(times['unsandboxed'])
    print(f'  the sandbox adds {added * 1000:.2f} ms per run (median)')


if __name__ == '__main__':
    asyncio.run(main())
