"""Redis through redis-py (infra/redis.py) against the real Redis: the URL's database and credentials are used,
nothing listening is a ConnectionError at once, TLS options from the settings travel in the URL (to kombu too),
and a refused subscription is seen. The event bus's listener subscribes again after Redis
drops it; a publish on a connection Redis dropped reaches the other instances, and one Redis refuses is
delivered locally, once."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from redis import exceptions

from app.config import Settings
from app.infra import redis as redis_infra
from app.infra.events import RedisEventBus
from tests.helpers.backends import REDIS_URL, require_team_services


@pytest.fixture
def redis_url() -> str:
    require_team_services()
    return REDIS_URL


def test_tls_files_from_the_settings_go_into_a_rediss_url(tmp_path: Path) -> None:
    files = {name: str(tmp_path / f'{name}.pem') for name in ('ca', 'cert', 'key')}
    settings = Settings(
        data_dir=tmp_path,
        redis_url='rediss://:pw@redis.example:6380/2',
        redis_ca_file=files['ca'],
        redis_cert_file=files['cert'],
        redis_key_file=files['key'],
    )
    assert settings.redis_url is not None
    query = parse_qs(urlsplit(settings.redis_url).query)
    assert query == {'ssl_ca_certs': [files['ca']], 'ssl_certfile': [files['cert']], 'ssl_keyfile': [files['key']]}
    assert settings.redis_url.startswith('rediss://:pw@redis.example:6380/2?')
    kwargs = redis.connection.parse_url(settings.redis_url)  # what redis-py makes of it
    assert (kwargs['ssl_ca_certs'], kwargs['db'], kwargs['connection_class']) == (
        files['ca'],
        2,
        redis.SSLConnection,
    )
    # a URL that already says keeps its own; a redis:// URL gets none (it has no TLS to configure)
    own = Settings(data_dir=tmp_path, redis_url='rediss://h/0?ssl_ca_certs=/mine.pem', redis_ca_file=files['ca'])
    assert own.redis_url == 'rediss://h/0?ssl_ca_certs=/mine.pem'
    with pytest.raises(ValueError, match='rediss://'):
        Settings(data_dir=tmp_path, redis_url='redis://h/0', redis_ca_file=files['ca'])
    # the Celery broker's own rediss:// URL gets them too (by default it is the Redis URL itself)
    broker = Settings(data_dir=tmp_path, redis_url='rediss://h/0', broker_url='rediss://h/1', redis_ca_file=files['ca'])
    assert broker.broker_url is not None and broker.broker_url.startswith('rediss://h/1?')
    assert parse_qs(urlsplit(broker.broker_url).query) == {'ssl_ca_certs': [files['ca']]}
    assert redis_infra.celery_ssl('rediss://h/1') == {'ssl_cert_reqs': ssl.CERT_REQUIRED}
    assert redis_infra.celery_ssl('redis://h/1') is None


def test_the_urls_database_and_credentials_are_used(redis_url: str) -> None:
    user, password, key = f'rbtest{uuid.uuid4().hex[:8]}', uuid.uuid4().hex, f'rbtest:infra:{uuid.uuid4().hex}'
    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser(user, enabled=True, passwords=[f'+{password}'], keys=['rbtest:*'], commands=['+@all'])
    base = redis_url.split('//', 1)[1].rsplit('/', 1)[0]
    try:
        client = redis_infra.sync_client(f'redis://{user}:{password}@{base}/5')
        client.set(key, 'in five')
        assert client.acl_whoami() == user
        client.close()
        with pytest.raises(exceptions.AuthenticationError):  # a ConnectionError: the 503 of an outage
            redis_infra.sync_client(f'redis://{user}:wrong@{base}/5').ping()
        assert redis.Redis.from_url(redis_url.rsplit('/', 1)[0] + '/5').get(key) == b'in five'
        assert admin.get(key) is None  # not in the URL's own database
    finally:
        redis.Redis.from_url(redis_url.rsplit('/', 1)[0] + '/5').delete(key)
        admin.acl_deluser(user)
        admin.close()


def test_nothing_listening_is_a_connection_error_at_once() -> None:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    started = time.monotonic()
    with pytest.raises(exceptions.ConnectionError):
        redis_infra.sync_client(f'redis://127.0.0.1:{port}/0').ping()

    async def scenario() -> None:
        with pytest.raises(exceptions.ConnectionError):
            await redis_infra.async_client(f'redis://127.0.0.1:{port}/0').ping()

    asyncio.run(scenario())
    assert time.monotonic() - started < 2  # not redis-py's default ten retries with backoff


def _listener_address(bus: RedisEventBus, redis_url: str) -> str:
    """Where Redis sees the bus's listener: its connection is named after the channel."""
    admin = redis.Redis.from_url(redis_url)
    try:
        found = [c['addr'] for c in admin.client_list(_type='pubsub') if c['name'] == bus._channel]
    finally:
        admin.close()
    assert len(found) == 1, found
    return found[0]


def test_the_event_listener_subscribes_again_after_redis_drops_it(redis_url: str, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr('app.infra.events.RESUBSCRIBE_SECONDS', 0.05)

    async def scenario() -> None:
        bus = RedisEventBus(redis_url, 'rbtest:' + uuid.uuid4().hex[:10])
        await bus.start()
        try:
            queue = bus.subscribe()
            bus.publish_many([{'type': 'run', 'id': 'before'}])
            assert (await asyncio.wait_for(queue.get(), 5))['id'] == 'before'
            admin = redis.Redis.from_url(redis_url)
            assert admin.client_kill(_listener_address(bus, redis_url))
            admin.close()
            deadline = time.monotonic() + 5
            while True:  # events published while it was away are lost (Redis keeps none); later ones arrive
                bus.publish_many([{'type': 'run', 'id': 'after'}])
                try:
                    event = await asyncio.wait_for(queue.get(), 0.2)
                    break
                except TimeoutError:
                    assert time.monotonic() < deadline, 'the listener never subscribed again'
            assert event['id'] == 'after'
            assert bus.listener_failure() is None
        finally:
            await bus.close()

    asyncio.run(scenario())


def test_a_listener_refused_by_redis_says_it_cannot_subscribe_until_it_can(redis_url: str, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr('app.infra.events.RESUBSCRIBE_SECONDS', 0.05)
    user, password = f'rbtest{uuid.uuid4().hex[:8]}', uuid.uuid4().hex
    prefix = 'rbtest:' + uuid.uuid4().hex[:10]
    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser(user, enabled=True, passwords=[f'+{password}'], keys=['*'], channels=['*'], commands=['+@all'])
    base = redis_url.split('//', 1)[1].rsplit('/', 1)[0]

    async def until(check) -> None:  # noqa: ANN001
        deadline = time.monotonic() + 10
        while not check():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)

    async def scenario() -> None:
        bus = RedisEventBus(f'redis://{user}:{password}@{base}/0', prefix)
        await bus.start()
        try:
            assert bus.listener_failure() is None
            admin.acl_setuser(user, enabled=True, reset_channels=True)  # Redis drops its subscription
            await until(lambda: bus.listener_failure() is not None)
            assert (bus.listener_failure() or '').startswith('cannot subscribe: NoPermissionError')
            admin.acl_setuser(user, enabled=True, channels=['*'])
            await until(lambda: bus.listener_failure() is None)
            queue = bus.subscribe()
            bus.publish_many([{'type': 'run', 'id': 'heard again'}])
            assert (await asyncio.wait_for(queue.get(), 5))['id'] == 'heard again'
        finally:
            await bus.close()

    try:
        asyncio.run(scenario())
    finally:
        admin.acl_deluser(user)
        admin.close()


def test_a_publish_on_a_connection_redis_dropped_is_sent_again_on_a_new_one(redis_url: str) -> None:
    """Sent again through Redis, not only delivered locally: the other instance gets it too."""
    prefix = 'rbtest:' + uuid.uuid4().hex[:10]

    async def scenario() -> None:
        bus, other = RedisEventBus(redis_url, prefix), RedisEventBus(redis_url, prefix)
        await bus.start()
        await other.start()
        try:
            queue, others = bus.subscribe(), other.subscribe()
            own = bus._publishing.client_id()  # the one idle connection of its pool
            admin = redis.Redis.from_url(redis_url)
            assert admin.client_kill_filter(_id=own) == 1  # its client has not seen it yet: the write goes to it
            admin.close()
            bus.publish_many([{'type': 'run', 'id': 'across the drop'}])
            assert (await asyncio.wait_for(others.get(), 5))['id'] == 'across the drop'
            assert (await asyncio.wait_for(queue.get(), 5))['id'] == 'across the drop'
            assert bus._publishing.client_id() != own
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
            await asyncio.to_thread(bus.publish_many, [{'type': 'run', 'id': 'refused'}])  # as a worker thread does
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
