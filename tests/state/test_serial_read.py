"""A page's reads made one at a time (app/state/serial_read.py): asks during a read make one more read after it, and
the answer drawn last is the newest."""

from __future__ import annotations

import asyncio

from app.state.serial_read import SerialRead


def test_asks_during_a_read_make_one_more_read_and_the_newest_answer_lands_last() -> None:
    async def scenario() -> tuple[int, list[int]]:
        server = {'version': 1}
        drawn: list[int] = []
        reads = 0
        gate = asyncio.Event()

        async def read() -> None:
            nonlocal reads
            reads += 1
            answer = server['version']
            if reads == 1:
                await gate.wait()  # the first read's answer is slow
            drawn.append(answer)

        load = SerialRead(read)
        first = asyncio.create_task(load())
        await asyncio.sleep(0)
        server['version'] = 2  # an action changes it while the first read is under way
        await asyncio.gather(load(), load(), load())  # three asks meanwhile return at once
        gate.set()
        await first
        return reads, drawn

    reads, drawn = asyncio.run(scenario())
    assert reads == 2  # the three asks made one more read, not three
    assert drawn == [1, 2]  # the newest answer is drawn last


def test_a_read_that_fails_lets_the_next_ask_read() -> None:
    async def scenario() -> int:
        calls = 0

        async def read() -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError('the server did not answer')

        load = SerialRead(read)
        try:
            await load()
        except RuntimeError:
            pass
        await load()
        return calls

    assert asyncio.run(scenario()) == 2
