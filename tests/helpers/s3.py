"""A real S3 API on loopback: moto's server mode (`python -m moto.server`, installed by scripts/bootstrap.sh's
`test` extra), one process per test that asks, with a bucket made for it. No object store installs here; moto
answers the S3 REST API over HTTP as AWS does, so s3fs (and botocore under it) talk to it as to S3."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from tests.helpers.servers import clean_env, free_port

KEY, SECRET = 'moto-testing', 'moto-testing-secret'


@dataclass(frozen=True)
class S3:
    endpoint: str
    bucket: str

    @property
    def url(self) -> str:
        return f's3://{self.bucket}/runboard'

    @property
    def options(self) -> str:
        """RUNBOARD_ARTIFACT_STORE_OPTIONS for s3fs: the endpoint and moto's credentials."""
        return json.dumps({'endpoint_url': self.endpoint, 'key': KEY, 'secret': SECRET})

    def filesystem(self):  # noqa: ANN201
        import s3fs

        return s3fs.S3FileSystem(endpoint_url=self.endpoint, key=KEY, secret=SECRET)


def _wait_for(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f'moto server exited with {process.returncode}')
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f'moto server not answering on 127.0.0.1:{port}')


@contextmanager
def moto_s3() -> Iterator[S3]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, '-m', 'moto.server', '-H', '127.0.0.1', '-p', str(port)],
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_for(port, process)
        s3 = S3(f'http://127.0.0.1:{port}', 'rb-' + uuid.uuid4().hex[:12])
        s3.filesystem().mkdir(s3.bucket)
        yield s3
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
