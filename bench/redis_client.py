"""What an admission's Redis work costs the server's process: the rate limiter's script and the PUBLISH of its two
events from 16 threads (as the admission runs, in FastAPI's threadpool), and the event bus's listener reading each
message back on its event loop. Prints process CPU per admission (user and system) and admissions per second;
asserts nothing.

    python bench/redis_client.py [--admissions 4000] [--threads 16] [--repeat 3]

Run from a checkout to measure its code: the `app` imported is the one of the current directory, so a second
worktree of older code measures that (docs/performance.md: redis-py's clients against the hand-written ones).
Needs Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))

from app.infra.events import RedisEventBus  # noqa: E402
from app.services.runs.ratelimit import RedisLimiter  # noqa: E402

REDIS = os.environ.get('RUNBOARD_BENCH_REDIS', 'redis://127.0.0.1:6379/0')


def one_round(admissions: int, threads: int) -> tuple[float, float, float]:
    """(user ms, system ms) of process CPU per admission, and admissions per second, listener included."""
    prefix = 'rbbench:' + uuid.uuid4().hex[:10]
    limiter = RedisLimiter(REDIS, limit=10**9, window_seconds=600)
    bus = RedisEventBus(REDIS, prefix)
    loop = asyncio.new_event_loop()
    started, heard = threading.Event(), threading.Event()

    async def listen() -> None:
        await bus.start()
        queue = bus.subscribe()
        started.set()
        got = 0
        while got < 2 * admissions:
            await queue.get()
            got += 1
        heard.set()

    threading.Thread(target=loop.run_forever, daemon=True).start()
    asyncio.run_coroutine_threadsafe(listen(), loop)
    started.wait(10)

    def admit(count: int, worker: int) -> None:
        key = f'{prefix}:rl:user:{worker}:runs'
        for _ in range(count):
            member = uuid.uuid4().hex
            limiter.acquire(key, member)
            bus.publish_many([{'type': 'run', 'id': member, 'status': 'queued'}, {'type': 'queue'}])

    workers = [
        threading.Thread(target=admit, args=(admissions // threads + (n < admissions % threads), n))
        for n in range(threads)
    ]
    before, wall = os.times(), time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert heard.wait(60), 'the listener did not hear every message'
    after, wall = os.times(), time.perf_counter() - wall
    asyncio.run_coroutine_threadsafe(bus.close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    limiter.close()
    user = (after.user - before.user) / admissions * 1000
    system = (after.system - before.system) / admissions * 1000
    return user, system, admissions / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--admissions', type=int, default=4000)
    parser.add_argument('--threads', type=int, default=16)
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    one_round(200, args.threads)  # warm: connections, the script loaded
    rounds = [one_round(args.admissions, args.threads) for _ in range(args.repeat)]
    cpu = [user + system for user, system, _ in rounds]
    print(
        f'{Path.cwd().name}: Redis per admission (script + PUBLISH + the listener), {args.threads} threads: '
        f'process CPU {statistics.median(cpu):.3f} ms median of {", ".join(f"{c:.3f}" for c in cpu)} '
        f'(system {statistics.median(r[1] for r in rounds):.3f}), '
        f'{statistics.median(r[2] for r in rounds):.0f} admissions/s; load {os.getloadavg()[0]:.1f}'
    )


if __name__ == '__main__':
    main()
