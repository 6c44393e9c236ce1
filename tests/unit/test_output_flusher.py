"""The output flusher stores the lines of every running run together, a round at a time; a run's flush loop ends
once its output is done and a round holding its lines has ended, and a run whose lines cannot be stored gets
them back, in order, while the other runs' lines are stored."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from app.config import Settings
from app.infra.events import EventBus
from app.services.execution import output_ingest
from app.services.execution.live import LiveRun
from app.services.execution.output_ingest import FLUSH_SECONDS, SQLITE_FLUSH_SECONDS, OutputIngest, flush_seconds_for
from app.services.runs.timeline import Appended


class Recording(OutputIngest):
    """Stores into a list instead of a database; a run id in `failing` cannot be stored."""

    def __init__(self, tmp_path: Path) -> None:
        engine = create_engine('sqlite://')  # never reached: the rounds are stored into a list
        super().__init__(settings=Settings(data_dir=tmp_path, demo=False), engine=engine, bus=EventBus())
        self.rounds: list[dict[str, list[tuple[str, str]]]] = []
        self.failing: set[str] = set()
        self.release = threading.Event()
        self.release.set()
        self.storing = threading.Event()

    def _store_parts(self, parts):  # noqa: ANN001, ANN202
        self.storing.set()
        self.release.wait(5)
        self.rounds.append({part.live.run_id: list(part.batch) for part in parts})
        return {
            part.live.run_id: RuntimeError('no') if part.live.run_id in self.failing else Appended(len(part.batch), 0)
            for part in parts
        }


async def until(condition: Callable[[], object], timeout: float = 5) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


def lines(live: LiveRun, *texts: str) -> None:
    for text in texts:
        live.buffer.append(('output', text))
        live.buffered_lines += 1


async def test_the_lines_of_all_running_runs_go_in_one_round(tmp_path: Path) -> None:
    ingest = Recording(tmp_path)
    await ingest.bus.start()
    events = ingest.bus.subscribe()
    runs = [LiveRun(f'run_{n}', 'p', 't') for n in range(3)]
    loops = [asyncio.create_task(ingest.flush_loop(live)) for live in runs]
    for n, live in enumerate(runs):
        lines(live, f'{n}a', f'{n}b')
    while not ingest.rounds:
        await asyncio.sleep(0.01)
    assert ingest.rounds[0] == {f'run_{n}': [('output', f'{n}a'), ('output', f'{n}b')] for n in range(3)}
    published = [events.get_nowait() for _ in range(3)]
    assert sorted(e['id'] for e in published) == ['run_0', 'run_1', 'run_2']  # one run.output per run a round
    assert {e['type'] for e in published} == {'run.output'}
    for live in runs:
        live.output_done.set()
    await asyncio.wait_for(asyncio.gather(*loops), 5)


async def test_a_run_whose_lines_fail_gets_them_back_in_order_and_the_others_are_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(output_ingest, 'FLUSH_RETRY_SECONDS', 0.2)
    ingest = Recording(tmp_path)
    await ingest.bus.start()
    bad, good = LiveRun('bad', 'p', 't'), LiveRun('good', 'p', 't')
    ingest.failing.add('bad')
    loops = [asyncio.create_task(ingest.flush_loop(live)) for live in (bad, good)]
    lines(bad, 'b1', 'b2')
    lines(good, 'g1')
    await until(lambda: ingest.rounds and bad.buffer)  # the round ended and gave the failed part back
    lines(bad, 'b3')
    assert bad.buffer[:2] == [('output', 'b1'), ('output', 'b2')]  # back at the front, before what came later
    assert good.buffer == []
    assert (bad.buffered_lines, bad.stored_lines) == (3, 0)
    ingest.failing.clear()
    await until(lambda: any('bad' in stored for stored in ingest.rounds[1:]))
    assert [stored['bad'] for stored in ingest.rounds[1:] if 'bad' in stored][0] == [
        ('output', 'b1'),
        ('output', 'b2'),
        ('output', 'b3'),
    ]
    for live in (bad, good):
        live.output_done.set()
    await asyncio.wait_for(asyncio.gather(*loops), 5)


async def test_a_run_ending_while_its_lines_are_stored_waits_for_that_round_and_no_later_one(tmp_path: Path) -> None:
    ingest = Recording(tmp_path)
    await ingest.bus.start()
    live, other = LiveRun('ending', 'p', 't'), LiveRun('other', 'p', 't')
    loops = [asyncio.create_task(ingest.flush_loop(live)), asyncio.create_task(ingest.flush_loop(other))]
    ingest.release.clear()
    lines(live, 'one')
    await asyncio.to_thread(ingest.storing.wait, 5)
    live.output_done.set()
    lines(live, 'left for the terminal status')
    await asyncio.sleep(0.1)
    assert not loops[0].done()  # its lines are being stored: never cancelled, never after the end
    ingest.release.set()
    await asyncio.wait_for(loops[0], 5)
    assert live.buffer == [('output', 'left for the terminal status')]  # stored with the terminal status
    lines(other, 'more')
    await until(lambda: len(ingest.rounds) >= 2)
    assert all('ending' not in stored for stored in ingest.rounds[1:])
    other.output_done.set()
    await asyncio.wait_for(loops[1], 5)


def test_a_round_is_longer_on_sqlite_where_one_server_stores_every_line_and_answers_every_read() -> None:
    # with workers, each stores its own runs' lines: a shorter round keeps the followers' lag down
    assert flush_seconds_for('sqlite') == SQLITE_FLUSH_SECONDS > flush_seconds_for('postgresql') == FLUSH_SECONDS
