"""Redis, the one way: redis-py clients, synchronous and asyncio (replies parsed by hiredis), made from one URL.

Every Redis user goes through here: the rate limiter's script, the event bus's PUBLISH and its listener's
subscription, the AFK sweep lease and the readiness probe. (Celery's broker is kombu's, on the same URL:
`celery_ssl` below.)

TLS is a `rediss://` URL. Its options are redis-py's `ssl_*` query parameters (`ssl_ca_certs`, `ssl_certfile`,
`ssl_keyfile`, `ssl_cert_reqs`, `ssl_check_hostname`), which kombu reads from a broker URL as well; Settings
adds RUNBOARD_REDIS_CA_FILE, _CERT_FILE and _KEY_FILE to the URL as those parameters (config.py), so whatever
holds the URL holds its TLS options too. Without `ssl_ca_certs` the server's certificate is checked against the
system's CAs, and always against its host name.

Timeouts are short, and a failed command is sent once more only when its connection failed (an idle connection
Redis dropped, say): an outage answers 503 within a couple of seconds, not after redis-py's default of ten
retries with backoff.
"""

from __future__ import annotations

import ssl
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = ['async_client', 'celery_ssl', 'is_tls', 'sync_client']

TIMEOUTS: dict[str, Any] = dict(socket_connect_timeout=1.0, socket_timeout=2.0)


def _options(options: dict[str, Any], retry_class: type) -> dict[str, Any]:
    # a dropped connection is replaced at once, one time; a timeout is not sent again (it would only wait twice)
    return {**TIMEOUTS, 'retry': retry_class(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)), **options}


def sync_client(url: str, **options: Any) -> redis.Redis:
    """A thread-safe client (a pool of connections) of the Redis at `url`; `options` override the defaults."""
    return redis.Redis.from_url(url, **_options(options, Retry))


def async_client(url: str, **options: Any) -> redis.asyncio.Redis:
    """An asyncio client (the event bus's listener); its connections belong to the event loop that opens them."""
    return redis.asyncio.Redis.from_url(url, **_options(options, redis.asyncio.retry.Retry))


def is_tls(url: str) -> bool:
    return url.startswith('rediss://')


def celery_ssl(url: str) -> dict[str, Any] | None:
    """Celery's `broker_use_ssl` for a broker URL: for rediss://, check the server's certificate as redis-py does
    (kombu alone connects to a rediss:// URL without ssl_* options unchecked). The URL's own ssl_* options, when
    it has them, take the place of these."""
    return {'ssl_cert_reqs': ssl.CERT_REQUIRED} if is_tls(url) else None
