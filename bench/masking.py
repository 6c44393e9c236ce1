"""What masking costs the output ingest: a run declaring N `::add-mask::` values, then printing M ordinary lines
(some holding a value), through app/services/execution/masking.py as the ingest calls it, in this process.
Prints figures; asserts nothing.

    python bench/masking.py [--declared 5000] [--lines 100000] [--line-chars 120] [--previews 200]

Then what masking the previews of a run's text files adds to its end (services/artifacts/masked.py): each text
file's first 64 KiB decoded and masked with the same Masker (the 100 values of the cap plus the project's), once with
nothing to mask in it and once with a value in it.

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
from app.services.artifacts.masked import PREVIEW_BYTES, masked_preview  # noqa: E402
from app.services.execution.masking import Masker  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--declared', type=int, default=5000)
    parser.add_argument('--lines', type=int, default=100_000)
    parser.add_argument('--line-chars', type=int, default=120)
    parser.add_argument('--previews', type=int, default=200)
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
    line = (f'{filler} ordinary output of a test report\n').encode()
    plain = (line * (PREVIEW_BYTES // len(line) + 1))[:PREVIEW_BYTES]
    holding = plain[: PREVIEW_BYTES // 2] + b' token-00000042 ' + plain[PREVIEW_BYTES // 2 + 16 :]
    for name, data in (('nothing to mask', plain), ('a value in it', holding)):
        began = time.process_time()
        kept = sum(masked_preview(data, cut=True, masks=masker) is not None for _ in range(args.previews))
        spent = time.process_time() - began
        print(
            f'{args.previews} previews of 64 KiB, {name}: {spent:.3f} s CPU '
            f'({spent / args.previews * 1e3:.2f} ms a file; {kept} kept masked)'
        )


if __name__ == '__main__':
    main()
