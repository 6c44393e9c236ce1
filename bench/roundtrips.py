"""What PostgreSQL and Redis round trips cost the Python client on this machine: the floor under a team-mode
admission's CPU. Prints figures; asserts nothing.

    python bench/roundtrips.py [--admissions 4000] [--clients 16] [--repeat 2]

One "admission" here is about what a team-mode admission sends, with none of its logic: a transaction of
five PostgreSQL statements (with BEGIN and COMMIT, seven round trips: one more than the admission's pre-ping,
BEGIN, key claim and lock, repository facts, write and COMMIT), one Redis command (for the rate-limit script)
and one Redis pipeline of two publishes (the run's events). It runs in three styles, 16 at a time, and
prints the process's CPU per admission:
- `threads`: psycopg's sync connection in a thread pool, as the server admits today;
- `pipeline`: the same with psycopg's pipeline mode (the statements before the Redis call sent together);
- `async`: psycopg's AsyncConnection and redis.asyncio on the event loop, no threads.

Needs PostgreSQL (127.0.0.1:5432, trust, database `test`) and Redis (127.0.0.1:6379).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg
import redis
import redis.asyncio as redis_async

DSN = 'host=127.0.0.1 port=5432 dbname=test user=postgres'
STATEMENTS = ['SELECT 1', 'SELECT pg_advisory_xact_lock(424242)', 'SELECT now()', "SELECT 'x'::text", 'SELECT 2']
CHANNEL = 'runboard-bench-roundtrips'


def process_cpu() -> float:
    times = os.times()
    return times.user + times.system


async def in_threads(admissions: int, clients: int, pipeline: bool) -> tuple[float, float]:
    connections = [psycopg.connect(DSN) for _ in range(clients)]
    free, lock = list(connections), threading.Lock()
    client = redis.Redis(host='127.0.0.1', port=6379)

    def admit() -> None:
        with lock:
            connection = free.pop()
        try:
            if pipeline:
                with connection.pipeline():
                    cursors = [connection.execute(s) for s in STATEMENTS[:3]]
                    cursors[-1].fetchone()
                    client.incr(CHANNEL)
                    for statement in STATEMENTS[3:]:
                        connection.execute(statement)
                    connection.commit()
            else:
                with connection.transaction():
                    for statement in STATEMENTS:
                        connection.execute(statement).fetchone()
                client.incr(CHANNEL)
            events = client.pipeline()
            events.publish(CHANNEL, 'created')
            events.publish(CHANNEL, 'event')
            events.execute()
        finally:
            with lock:
                free.append(connection)

    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(40) as pool:
        figures = await drive(admissions, clients, lambda: loop.run_in_executor(pool, admit))
    for connection in connections:
        connection.close()
    client.close()
    return figures


async def on_the_loop(admissions: int, clients: int) -> tuple[float, float]:
    connections = asyncio.Queue[psycopg.AsyncConnection]()
    for _ in range(clients):
        connections.put_nowait(await psycopg.AsyncConnection.connect(DSN))
    client = redis_async.Redis(host='127.0.0.1', port=6379)

    async def admit() -> None:
        connection = await connections.get()
        try:
            async with connection.transaction():
                for statement in STATEMENTS:
                    await (await connection.execute(statement)).fetchone()
            await client.incr(CHANNEL)
            events = client.pipeline()
            events.publish(CHANNEL, 'created')
            events.publish(CHANNEL, 'event')
            await events.execute()
        finally:
            connections.put_nowait(connection)

    figures = await drive(admissions, clients, admit)
    while not connections.empty():
        await connections.get_nowait().close()
    await client.aclose()
    return figures


async def drive(admissions: int, clients: int, admit: Callable) -> tuple[float, float]:
    """Run `admissions` calls, `clients` at a time: (calls per second, the process's CPU seconds per call)."""
    gate = asyncio.Semaphore(clients)

    async def one() -> None:
        async with gate:
            await admit()

    started, cpu = time.perf_counter(), process_cpu()
    await asyncio.gather(*(one() for _ in range(admissions)))
    elapsed, used = time.perf_counter() - started, process_cpu() - cpu
    return admissions / elapsed, used / admissions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--admissions', type=int, default=4000)
    parser.add_argument('--clients', type=int, default=16)
    parser.add_argument('--repeat', type=int, default=2)
    args = parser.parse_args()
    styles = {
        'threads': lambda: in_threads(args.admissions, args.clients, pipeline=False),
        'pipeline': lambda: in_threads(args.admissions, args.clients, pipeline=True),
        'async': lambda: on_the_loop(args.admissions, args.clients),
    }
    print(f'{args.admissions} admissions, {args.clients} at a time: 7 PostgreSQL and 2 Redis round trips each')
    for round_number in range(1, args.repeat + 1):
        for name, run in styles.items():
            rate, cpu = asyncio.run(run())
            print(f'  round {round_number}  {name:9} {rate:6.0f}/s  client CPU {cpu * 1000:.3f} ms per admission')


if __name__ == '__main__':
    main()
