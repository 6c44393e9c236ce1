"""The sample receiver in docs/notifications.md, run as written (its secret and port aside) against requests
signed as the server signs them: during a secret rotation's grace a request carries two v1 values, and the
sample accepts it holding either secret."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import HTTPServer
from pathlib import Path

import pytest

from app.services.notifications.signature import signature_header

DOCS = Path(__file__).resolve().parents[2] / 'docs' / 'notifications.md'
SERVE_LINE = "web.HTTPServer(('', 8000), Hook).serve_forever()"
BODY = b'{"id":"evt_1","type":"ping"}'


def _sample(secret: str) -> type:
    """The sample's handler class, with `secret` for its SECRET line and without the line that serves for ever."""
    text = DOCS.read_text()
    code = text.split('A receiver in ', 1)[1].split('```python\n', 1)[1].split('```', 1)[0]
    assert SERVE_LINE in code and "SECRET = b'whsec_...'" in code
    code = code.replace(SERVE_LINE, '').replace("b'whsec_...'", repr(secret.encode()))
    namespace: dict = {}
    exec(compile(code, str(DOCS), 'exec'), namespace)  # noqa: S102 - the documentation's own code, on purpose
    sample = namespace['Hook']

    class Quiet(sample):  # type: ignore[misc,valid-type]
        def log_message(self, *args: object) -> None:  # the test's output, not the sample's access log
            pass

    return Quiet


@contextmanager
def _serving(secret: str) -> Iterator[int]:
    server = HTTPServer(('127.0.0.1', 0), _sample(secret))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _answer(port: int, header: str) -> int:
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    try:
        connection.request('POST', '/', body=BODY, headers={'X-Runboard-Signature': header})
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.parametrize(
    ('holds', 'signed_with', 'status'),
    [
        ('whsec_old', ['whsec_old'], 204),
        ('whsec_old', ['whsec_new', 'whsec_old'], 204),  # a rotation's grace: the receiver has the old secret
        ('whsec_new', ['whsec_new', 'whsec_old'], 204),  # ... or already the new one
        ('whsec_other', ['whsec_new', 'whsec_old'], 401),
        ('whsec_old', ['whsec_new'], 401),  # the grace is over
    ],
)
def test_the_docs_sample_receiver(holds: str, signed_with: list[str], status: int) -> None:
    with _serving(holds) as port:
        assert _answer(port, signature_header(signed_with, int(time.time()), BODY)) == status
