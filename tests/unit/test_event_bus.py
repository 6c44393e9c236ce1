"""The event bus delivers each event to the subscribers that accept it, on both buses (in-process and Redis)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from app.infra.events import EventBus, events_of, make_bus, of_types
from tests.helpers.backends import BACKENDS, REDIS_URL, require_team_services


def _bus(backend: str) -> EventBus:
    if backend == 'local':
        return make_bus(None, 'unused')
    require_team_services()
    return make_bus(REDIS_URL, 'rbtest:' + uuid.uuid4().hex[:10])


async def _drain(queue: asyncio.Queue, until_type: str) -> list[str]:
    """The types of the events in `queue` up to and including the first of `until_type`."""
    seen: list[str] = []
    while not seen or seen[-1] != until_type:
        event = await asyncio.wait_for(queue.get(), timeout=5)
        seen.append(event['type'])
    return seen


@pytest.mark.parametrize('backend', BACKENDS)
def test_a_subscriber_gets_only_the_events_it_accepts(backend: str) -> None:
    async def scenario() -> None:
        bus = _bus(backend)
        await bus.start()
        try:
            everything = bus.subscribe()
            kicks = bus.subscribe(of_types('queue', 'end'))
            broken = bus.subscribe(lambda event: event['missing'] == 1)  # raises for every event
            bus.publish_many([{'type': 'run', 'id': 'r1'}, {'type': 'queue'}, {'type': 'run', 'id': 'r2'}])
            bus.publish({'type': 'end'})
            assert await _drain(everything, 'end') == ['run', 'queue', 'run', 'end']
            assert await _drain(kicks, 'end') == ['queue', 'end']
            assert broken.empty()  # a filter that fails drops the event: a stream never gets what it cannot vet
            bus.unsubscribe(kicks)
            bus.publish({'type': 'queue'})
            bus.publish({'type': 'end'})
            assert await _drain(everything, 'end') == ['queue', 'end']
            assert kicks.empty()
        finally:
            await bus.close()

    asyncio.run(scenario())


@pytest.mark.parametrize('backend', BACKENDS)
def test_events_published_from_a_thread_reach_the_loop(backend: str) -> None:
    async def scenario() -> None:
        bus = _bus(backend)
        await bus.start()
        try:
            queue = bus.subscribe(of_types('queue'))
            await asyncio.to_thread(bus.publish_many, [{'type': 'run', 'id': 'r1'}, {'type': 'queue'}])
            event = await asyncio.wait_for(queue.get(), timeout=5)
            assert event == {'type': 'queue'} and queue.empty()
        finally:
            await bus.close()

    asyncio.run(scenario())


@pytest.mark.parametrize('backend', BACKENDS)
def test_many_events_from_many_threads_all_arrive_in_each_threads_order(backend: str) -> None:
    """Each publish_many is one Redis message holding a list: nothing is lost or reordered on the way."""

    async def scenario() -> None:
        bus = _bus(backend)
        await bus.start()
        try:
            queue = bus.subscribe(of_types('run'))
            per_thread = 700

            def publish_from(thread: int) -> None:
                for n in range(per_thread):
                    bus.publish_many([{'type': 'run', 'id': f'{thread}:{n}'}, {'type': 'queue'}])

            await asyncio.gather(*(asyncio.to_thread(publish_from, t) for t in range(3)))
            seen: dict[str, list[int]] = {'0': [], '1': [], '2': []}
            for _ in range(3 * per_thread):
                thread, n = (await asyncio.wait_for(queue.get(), timeout=5))['id'].split(':')
                seen[thread].append(int(n))
            assert all(numbers == list(range(per_thread)) for numbers in seen.values())
            assert queue.empty()
        finally:
            await bus.close()

    asyncio.run(scenario())


def test_a_message_holds_a_list_of_events_or_one_event() -> None:
    assert events_of(b'[{"type": "run", "id": "r1"}, {"type": "queue"}]') == [
        {'type': 'run', 'id': 'r1'},
        {'type': 'queue'},
    ]
    assert events_of('{"type": "queue"}') == [{'type': 'queue'}]  # as an instance of the previous version sends
