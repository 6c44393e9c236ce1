"""Server memory as runs are admitted: RSS of `python main.py` after each batch. Prints figures; asserts
nothing.

    python bench/memory.py [--warmup 5000] [--admissions 50000] [--batch 5000] [--window 30]

SQLite, global cap 0 (every run stays queued), the same client as bench/trigger_api.py, distinct
branches. The rate-limit window is short (--window seconds, limit raised): the sliding log holds one
entry per admission for the window by design, so a long window would show the log, not a leak. The
warm-up lasts at least --warmup admissions and one window: by then the log holds a window of admissions
at the sustained rate, its steady size; the next --admissions are measured against that.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trigger_api import free_port, make_repo, phase, start_server, trigger_bodies, wait_healthy  # noqa: E402


def rss_mb(pid: int, field: str = 'VmRSS') -> float:
    """RSS in MB; field: RssAnon (the heap), RssFile (mapped files) as /proc/PID/status names them."""
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith(field + ':'):
            return int(line.split()[1]) / 1024
    return float('nan')


def split_mb(pid: int) -> str:
    return f'anon {rss_mb(pid, "RssAnon"):.1f}, file {rss_mb(pid, "RssFile"):.1f}, shmem {rss_mb(pid, "RssShmem"):.1f}'


async def main(args: argparse.Namespace) -> None:
    import aiohttp

    workdir = Path(tempfile.mkdtemp(prefix='rb-memory-'))
    repo = make_repo(workdir / 'repo', args.branches)
    port = free_port()
    url = f'http://127.0.0.1:{port}'
    process = start_server('main', workdir / 'data', port, workdir / 'server.log', window_seconds=args.window)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, url, process)
            token = json.loads((workdir / 'data' / 'credentials.json').read_text())['token']
            session.headers['Authorization'] = f'Bearer {token}'
            project = {
                'id': 'bench',
                'name': 'Bench',
                'repository': str(repo),
                'command': ['true'],
                'max_concurrent_runs': 100_000,
            }
            async with session.post(url + '/api/projects', json=project) as reply:
                assert reply.status == 201, await reply.text()
            done, warm_at, started = 0, None, time.monotonic()
            measured: list[float] = []
            print(f'batch of {args.batch}, window {args.window} s; admitted -> RSS')
            while warm_at is None or done < warm_at + args.admissions:
                if done + args.batch > args.branches:
                    raise SystemExit(f'out of branches after {done} admissions: raise --branches')
                bodies = trigger_bodies(range(done, done + args.batch))
                figures = await phase(session, url, bodies, 16, 201)
                done += len(bodies)
                rss = rss_mb(process.pid)
                elapsed = time.monotonic() - started
                if warm_at is not None:
                    measured.append(rss)
                print(
                    f'{done:7d} admitted  RSS {rss:7.1f} MB  ({figures["per_second"]:.0f} runs/s, '
                    f'{figures["errors"]} errors, {elapsed:.0f} s; {split_mb(process.pid)})'
                    f'{"" if warm_at is not None else "  warm-up"}'
                )
                # warm: the rate-limit log holds a whole window of admissions at this rate (its steady size)
                if warm_at is None and done >= args.warmup and elapsed >= args.window:
                    warm_at, after_warmup = done, rss
            quiet = []  # the rate-limit log empties; RSS every few seconds, to see when it moves
            for _ in range(args.window // 3 + 1):
                await asyncio.sleep(3)
                quiet.append(rss_mb(process.pid))
            print('  quiet window, every 3 s: ' + ' '.join(f'{value:.1f}' for value in quiet))
            end = quiet[-1]
            print(
                f'after the warm-up ({warm_at} admissions, one window) {after_warmup:.1f} MB; over the next '
                f'{args.admissions} admissions {min(measured):.1f}-{max(measured):.1f} MB '
                f'({max(measured) - min(measured):.1f} MB apart); after one window of quiet {end:.1f} MB '
                f'({end - after_warmup:+.1f} MB)'
            )
    finally:
        process.terminate()
        process.wait(20)


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--warmup', type=int, default=5000)
    parser.add_argument('--admissions', type=int, default=50_000)
    parser.add_argument('--batch', type=int, default=5000)
    parser.add_argument('--window', type=int, default=30)
    parser.add_argument('--branches', type=int, default=150_000, help='distinct branches (one per admission)')
    asyncio.run(main(parser.parse_args()))
