"""Team mode: one instance sweeps the AFK loop at a time (a Redis SET NX PX lease). Redis may lose it;
the database's claims and partial unique indexes keep launches safe without it."""

from __future__ import annotations

import logging
import uuid

from app.infra.redis import sync_client

log = logging.getLogger(__name__)


class SweepLease:
    """Team mode: one instance sweeps at a time (Redis SET NX PX). Redis may lose it: claims stay safe."""

    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

    def __init__(self, redis_url: str, prefix: str, ttl_seconds: float) -> None:
        self._redis = sync_client(redis_url)
        self._release = self._redis.register_script(self._RELEASE)
        self.key = f'{prefix}:afk:sweep-lease'
        self.ttl_ms = int(ttl_seconds * 1000)
        self._token: str | None = None

    def acquire(self) -> bool:
        token = uuid.uuid4().hex
        try:
            if self._redis.set(self.key, token, nx=True, px=self.ttl_ms):
                self._token = token
                return True
            return False
        except Exception:  # noqa: BLE001 - without Redis the database still keeps launches safe
            log.warning('AFK sweep lease unavailable; sweeping without it', exc_info=True)
            self._token = None
            return True

    def release(self) -> None:
        if self._token is None:
            return
        try:
            self._release(keys=[self.key], args=[self._token])
        except Exception:  # noqa: BLE001 - the lease expires by itself
            log.warning('could not release the AFK sweep lease', exc_info=True)
        self._token = None

    def close(self) -> None:
        self._redis.close()
