"""A webhook receiver for tests: a small threaded HTTP server on a free port that records every POST (headers and
body) and answers with the status codes it is told to, in order (then 200), after the delays it is told to; the
first `held` requests get no answer until the test calls `release()`."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    url: str
    answers: list[int] = field(default_factory=list)  # the next answers' status codes, in order; then 200
    delays: list[float] = field(default_factory=list)  # seconds before each next answer, in order; then none
    held: int = 0  # how many of the first requests wait for release() before they are answered
    body: bytes | None = None  # every answer's body (default: b'ok', or b'receiver says no' for a non-2xx)
    content_type: str = 'text/plain'
    answered: int = 0  # requests whose answer was written (or whose sender had hung up) so far
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self.released.set()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Until `count` requests arrived; every request so far."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            if time.monotonic() > deadline:
                raise AssertionError(f'{len(self.requests)} webhook request(s) arrived, expected {count}')
            time.sleep(0.02)

    def of_event(self, event_type: str) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.headers.get('x-runboard-event') == event_type]


@contextmanager
def receiver(
    *answers: int,
    delays: tuple[float, ...] = (),
    held: int = 0,
    body: bytes | None = None,
    content_type: str = 'text/plain',
) -> Iterator[Receiver]:
    state = Receiver(
        url='', answers=list(answers), delays=list(delays), held=held, body=body, content_type=content_type
    )

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the standard library's name
            length = int(self.headers.get('content-length') or 0)
            body = self.rfile.read(length)
            with state.lock:
                state.requests.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                )
                code = state.answers.pop(0) if state.answers else 200
                delay = state.delays.pop(0) if state.delays else 0.0
                hold = len(state.requests) <= state.held
            if hold:
                state.released.wait(timeout=120)
            time.sleep(delay)
            try:
                self.send_response(code)
                answer = state.body if state.body is not None else b'ok' if code < 300 else b'receiver says no'
                self.send_header('Content-Type', state.content_type)
                self.send_header('Content-Length', str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:  # the sender gave up waiting and hung up
                pass
            with state.lock:
                state.answered += 1

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    state.url = f'http://127.0.0.1:{server.server_address[1]}/hooks/runboard'
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release()
        server.shutdown()
        server.server_close()
