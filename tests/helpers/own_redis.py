"""A throwaway redis-server of a test's own on a loopback port, which the test may kill and start again (the
shared one must keep serving other tests): how tests make a team server lose Redis."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def own_redis(port: int) -> Iterator[subprocess.Popen]:
    """redis-server on `port`, answering PING when this yields; terminated on leaving."""
    if shutil.which('redis-server') is None:
        pytest.skip('redis-server not installed (Debian package redis-server)')
    process = subprocess.Popen(
        ['redis-server', '--port', str(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            import redis

            redis.Redis(port=port).ping()
            break
        except Exception:  # noqa: BLE001 - not up yet
            assert time.monotonic() < deadline, 'redis-server did not start'
            time.sleep(0.05)
    try:
        yield process
    finally:
        process.terminate()
        process.wait(10)
