"""The event loop's Redis connection (infra/redis_loop.py) against the real Redis: concurrent commands share one
connection and each gets its own reply, error replies raise redis-py's classes, a silent Redis times out, a
dropped connection is replaced, and the URL's database and credentials are used. The event bus's listener
subscribes again after Redis drops it; a publish on a connection Redis dropped reaches the other instances, and
one Redis refuses is delivered locally, once."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid

import pytest
import redis
from redis import exceptions

from app.infra.events import RedisEventBus
from app.infra.redis_loop import LoopRedis, reply_error
from tests.helpers.backends import REDIS_URL, require_team_services


@pytest.mark.parametrize(
    ('message', 'error_class'),
    [
        ('NOSCRIPT No matching script. Please use EVAL.', exceptions.NoScriptError),
        ('LOADING Redis is loading the dataset in memory', exceptions.BusyLoadingError),
        ('WRONGTYPE Operation against a key holding the wrong kind of value', exceptions.ResponseError),
        ('ERR value is not an integer or out of range', exceptions.ResponseError),
        ('WRONGPASS invalid username-password pair or user is disabled.', exceptions.AuthenticationError),
    ],
)
def test_an_error_reply_becomes_redis_pys_exception(message: str, error_class: type) -> None:
    error = reply_error(message)
    assert type(error) is error_class and str(error) == message


@pytest.fixture
def redis_url() -> str:
    require_team_services()
    return REDIS_URL


def test_concurrent_commands_share_one_connection_and_each_gets_its_own_reply(redis_url: str) -> None:
    counter, text_key = f'rbtest:loop:{uuid.uuid4().hex}', f'rbtest:loop:{uuid.uuid4().hex}'

    async def scenario() -> None:
        client = LoopRedis(redis_url)
        try:
            await client.call('SET', text_key, 'not a number')
            calls = [client.call('INCR', counter) for _ in range(100)]
            calls.insert(50, client.call('INCR', text_key))  # an error reply among them
            replies = await asyncio.gather(*calls, return_exceptions=True)
            assert isinstance(replies[50], exceptions.ResponseError)
            assert replies[:50] + replies[51:] == list(range(1, 101))  # in the order they were sent
            clients = await client.call('CLIENT', 'LIST')
            assert clients.count(f'id={await client.call("CLIENT", "ID")} '.encode()) == 1
            with pytest.raises(exceptions.NoScriptError):
                await client.call('EVALSHA', '0' * 40, 0)
            assert await client.call('GET', text_key) == b'not a number'  # still usable after error replies
        finally:
            await client.call('DEL', counter, text_key)
            await client.close()

    asyncio.run(scenario())


def test_a_command_redis_does_not_answer_in_time_fails_and_the_next_one_works(redis_url: str) -> None:
    async def scenario() -> None:
        client = LoopRedis(redis_url, socket_timeout=0.3)
        try:
            started = time.monotonic()
            with pytest.raises(exceptions.TimeoutError):
                await client.call('BLPOP', f'rbtest:loop:{uuid.uuid4().hex}', 5)  # blocks for 5 s
            assert time.monotonic() - started < 2
            assert await client.call('PING') == b'PONG'
        finally:
            await client.close()

    asyncio.run(scenario())


def test_a_connection_redis_dropped_is_replaced_and_the_command_sent_again(redis_url: str) -> None:
    async def scenario() -> None:
        client = LoopRedis(redis_url)
        try:
            own = await client.call('CLIENT', 'ID')
            admin = redis.Redis.from_url(redis_url)
            assert admin.client_kill_filter(_id=own) == 1
            admin.close()
            assert await client.call('PING') == b'PONG'
            assert await client.call('CLIENT', 'ID') != own
        finally:
            await client.close()

    asyncio.run(scenario())


def test_nothing_listening_is_a_connection_error() -> None:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there

    async def scenario() -> None:
        with pytest.raises(exceptions.ConnectionError):
            await LoopRedis(f'redis://127.0.0.1:{port}/0').call('PING')

    asyncio.run(scenario())


def test_the_urls_database_and_credentials_are_used(redis_url: str) -> None:
    user, password, key = f'rbtest{uuid.uuid4().hex[:8]}', uuid.uuid4().hex, f'rbtest:loop:{uuid.uuid4().hex}'
    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser(user, enabled=True, passwords=[f'+{password}'], keys=['rbtest:*'], commands=['+@all'])
    base = redis_url.split('//', 1)[1].rsplit('/', 1)[0]

    async def scenario() -> None:
        client = LoopRedis(f'redis://{user}:{password}@{base}/5')
        try:
            await client.call('SET', key, 'in five')
            assert (await client.call('ACL', 'WHOAMI')).decode() == user
        finally:
            await client.close()
        with pytest.raises(exceptions.AuthenticationError):  # a ConnectionError: the 503 of an outage
            await LoopRedis(f'redis://{user}:wrong@{base}/5').call('PING')

    try:
        asyncio.run(scenario())
        assert redis.Redis.from_url(redis_url.rsplit('/', 1)[0] + '/5').get(key) == b'in five'
        assert admin.get(key) is None  # not in the URL's own database
    finally:
        redis.Redis.from_url(redis_url.rsplit('/', 1)[0] + '/5').delete(key)
        admin.acl_deluser(user)
        admin.close()


def test_the_event_listener_subscribes_again_after_redis_drops_it(redis_url: str, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr('app.infra.events.RESUBSCRIBE_SECONDS', 0.05)

    async def scenario() -> None:
        bus = RedisEventBus(redis_url, 'rbtest:' + uuid.uuid4().hex[:10])
        await bus.start()
        try:
            queue = bus.subscribe()
            await bus.publish_many_async([{'type': 'run', 'id': 'before'}])
            assert (await asyncio.wait_for(queue.get(), 5))['id'] == 'before'
            connection = await bus._listening.connect()
            host, port = connection.transport.get_extra_info('sockname')[:2]  # Redis knows it by this address
            admin = redis.Redis.from_url(redis_url)
            assert admin.client_kill(f'{host}:{port}')
            admin.close()
            deadline = time.monotonic() + 5
            while True:  # events published while it was away are lost (Redis keeps none); later ones arrive
                await bus.publish_many_async([{'type': 'run', 'id': 'after'}])
                try:
                    event = await asyncio.wait_for(queue.get(), 0.2)
                    break
                except TimeoutError:
                    assert time.monotonic() < deadline, 'the listener never subscribed again'
            assert event['id'] == 'after'
        finally:
            await bus.close()

    asyncio.run(scenario())


def test_a_publish_on_a_connection_redis_dropped_is_sent_again_on_a_new_one(redis_url: str) -> None:
    """Sent again through Redis, not only delivered locally: the other instance gets it too."""
    prefix = 'rbtest:' + uuid.uuid4().hex[:10]

    async def scenario() -> None:
        bus, other = RedisEventBus(redis_url, prefix), RedisEventBus(redis_url, prefix)
        await bus.start()
        await other.start()
        try:
            queue, others = bus.subscribe(), other.subscribe()
            own = await bus._publishing_async.call('CLIENT', 'ID')
            admin = redis.Redis.from_url(redis_url)
            assert admin.client_kill_filter(_id=own) == 1  # the loop has not seen it yet: the write goes to it
            admin.close()
            await bus.publish_many_async([{'type': 'run', 'id': 'across the drop'}])
            assert (await asyncio.wait_for(others.get(), 5))['id'] == 'across the drop'
            assert (await asyncio.wait_for(queue.get(), 5))['id'] == 'across the drop'
            assert await bus._publishing_async.call('CLIENT', 'ID') != own
            await asyncio.sleep(0.2)
            assert queue.empty() and others.empty(), 'delivered once'
        finally:
            await bus.close()
            await other.close()

    asyncio.run(scenario())


def test_a_publish_redis_refuses_is_delivered_locally_once(redis_url: str, caplog) -> None:  # noqa: ANN001
    user, password = f'rbtest{uuid.uuid4().hex[:8]}', uuid.uuid4().hex
    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser(
        user, enabled=True, passwords=[f'+{password}'], keys=['*'], channels=['*'], commands=['+@all', '-publish']
    )
    base = redis_url.split('//', 1)[1].rsplit('/', 1)[0]

    async def scenario() -> None:
        bus = RedisEventBus(f'redis://{user}:{password}@{base}/0', 'rbtest:' + uuid.uuid4().hex[:10])
        await bus.start()
        try:
            queue = bus.subscribe()
            await bus.publish_many_async([{'type': 'run', 'id': 'refused'}])
            assert (await asyncio.wait_for(queue.get(), 5))['id'] == 'refused'
            await asyncio.sleep(0.2)
            assert queue.empty(), 'delivered once'
        finally:
            await bus.close()

    try:
        asyncio.run(scenario())
        assert 'redis publish failed; delivering locally' in caplog.text
    finally:
        admin.acl_deluser(user)
        admin.close()
