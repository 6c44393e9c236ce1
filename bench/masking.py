"""What masking costs the output ingest: a run declaring N `::add-mask::` values, then printing M ordinary lines
(some holding a value), through app/services/execution/masking.py as the ingest calls it, in this process.
Prints figures; asserts nothing.

    python bench/masking.py [--declared 5000] [--lines 100000] [--line-chars 120]

Before the cap (one regex of every value, re-sorted and recompiled per value), 2,000 declared values took 66.7 s
of CPU on the server's loop; with it, a run masks 100 of its own values, and every line costs at most one
`str.replace` per value.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from app.services.execution.masking import Masker  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--declared', type=int, default=5000)
    parser.add_argument('--lines', type=int, default=100_000)
    parser.add_argument('--line-chars', type=int, default=120)
    args = parser.parse_args()
    masker = Masker(['project-secret-value'])
    began = time.process_time()
    for n in range(args.declared):
        masker.take_line(f'::add-mask::token-{n:08d}')
    declared = time.process_time() - began
    filler = 'x' * max(0, args.line_chars - 40)
    began = time.process_time()
    for n in range(args.lines):
        masker.take_line(f'line {n} token-{n % 200:08d} {filler}')
    printed = time.process_time() - began
    print(f'{args.declared:,} ::add-mask:: lines: {declared:.3f} s CPU ({len(masker.values)} values kept)')
    print(
        f'{args.lines:,} lines of {args.line_chars} characters: {printed:.3f} s CPU '
        f'({printed / args.lines * 1e6:.1f} µs a line)'
    )
    print(f'warned: {masker.take_warning() is not None}')


if __name__ == '__main__':
    main()
