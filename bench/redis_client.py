"""What an admission's Redis work costs the server's process: the rate limiter's script and the PUBLISH of its two
events from 16 threads (as the admission runs, in FastAPI's threadpool), and the event bus's listener reading each
message back on its event loop. Prints process CPU per admission (user and system) and admissions per second;
asserts nothing.

    python bench/redis_client.py [--admissions 4000] [--threads 16] [--repeat 3] [--no-listener | --listener-only]

--no-listener: the script and the PUBLISH alone; --listener-only: the listener alone, the messages published by
another process.

Run from a checkout to measure its code: the `app` imported is the one of the current directory, so a second
worktree of older code measures that (docs/performance.md: redis-py's clients against the hand-written ones).
Needs Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))

from app.infra.events import RedisEventBus  # noqa: E402
from app.services.runs.ratelimit import RedisLimiter  # noqa: E402

REDIS = os.environ.get('RUNBOARD_BENCH_REDIS', 'redis://127.0.0.1:6379/0')


def one_round(admissions: int, threads: int, listening: bool = True) -> tuple[float, float, float]:
    """(user ms, system ms) of process CPU per admission, and admissions per second, the listener included unless
    not `listening`."""
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
    if listening:
        asyncio.run_coroutine_threadsafe(listen(), loop)
        started.wait(10)
    else:
        heard.set()

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
    if listening:
        asyncio.run_coroutine_threadsafe(bus.close(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    limiter.close()
    user = (after.user - before.user) / admissions * 1000
    system = (after.system - before.system) / admissions * 1000
    return user, system, admissions / wall


PUBLISHER = """
import sys, time, redis
client, channel, count = redis.Redis.from_url(sys.argv[1]), sys.argv[2], int(sys.argv[3])
time.sleep(1)
pipe = client.pipeline(transaction=False)
for n in range(count):
    pipe.publish(channel, '[{"type": "run", "id": "x"}, {"type": "queue"}]')
    if n % 100 == 99:
        pipe.execute()
pipe.execute()
"""


def listener_only(messages: int) -> float:
    """Process CPU per message of the listener alone (µs), from its first message to its last."""

    async def listen() -> float:
        prefix = 'rbbench:' + uuid.uuid4().hex[:10]
        bus = RedisEventBus(REDIS, prefix)
        await bus.start()
        queue = bus.subscribe()
        publisher = subprocess.Popen([sys.executable, '-c', PUBLISHER, REDIS, f'{prefix}:events', str(messages)])
        await queue.get()
        before = os.times()
        for _ in range(2 * messages - 1):
            await queue.get()
        after = os.times()
        publisher.wait()
        await bus.close()
        return (after.user + after.system - before.user - before.system) / messages * 1e6

    return asyncio.run(listen())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--admissions', type=int, default=4000)
    parser.add_argument('--threads', type=int, default=16)
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--no-listener', action='store_true')
    parser.add_argument('--listener-only', action='store_true')
    args = parser.parse_args()
    if args.listener_only:
        per_message = [listener_only(5 * args.admissions) for _ in range(args.repeat)]
        print(f'{Path.cwd().name}: the listener alone: {", ".join(f"{m:.1f}" for m in per_message)} µs CPU a message')
        return
    listening = not args.no_listener
    one_round(200, args.threads, listening)  # warm: connections, the script loaded
    rounds = [one_round(args.admissions, args.threads, listening) for _ in range(args.repeat)]
    cpu = [user + system for user, system, _ in rounds]
    what = 'script + PUBLISH + the listener' if listening else 'script + PUBLISH'
    print(
        f'{Path.cwd().name}: Redis per admission ({what}), {args.threads} threads: '
        f'process CPU {statistics.median(cpu):.3f} ms median of {", ".join(f"{c:.3f}" for c in cpu)} '
        f'(system {statistics.median(r[1] for r in rounds):.3f}), '
        f'{statistics.median(r[2] for r in rounds):.0f} admissions/s; load {os.getloadavg()[0]:.1f}'
    )


if __name__ == '__main__':
    main()
