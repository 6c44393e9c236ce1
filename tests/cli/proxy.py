"""A TCP proxy between the CLI and the server that loses the answer to the first POST: it forwards the
request, waits until the server has answered (so the server did the work), then closes the client's
connection without passing a byte of the answer on. Everything else is forwarded untouched, except
during a `cut(seconds)`: every open connection is closed and new ones are closed at once. `cut_on` starts
such an outage the first time an answer carries those bytes, so it falls mid-stream however slowly the
client started."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


def _read_request(conn: socket.socket) -> bytes:
    data = b''
    while b'\r\n\r\n' not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b'\r\n\r\n')
    length = 0
    for line in head.split(b'\r\n')[1:]:
        name, _, value = line.partition(b':')
        if name.strip().lower() == b'content-length':
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b'\r\n\r\n' + body


def _pipe(source: socket.socket, target: socket.socket, seen: Callable[[bytes], None] | None = None) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
            if seen is not None:
                seen(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class DroppingProxy:
    def __init__(
        self, upstream_port: int, *, drops: int = 1, cut_on: bytes | None = None, cut_seconds: float = 1.5
    ) -> None:
        self.upstream_port = upstream_port
        self._cut_on, self._cut_seconds = cut_on, cut_seconds
        self.cuts = 0
        self.drops_left = drops
        self.dropped_requests: list[bytes] = []
        self._listener = socket.create_server(('127.0.0.1', 0))
        self.port = self._listener.getsockname()[1]
        self.url = f'http://127.0.0.1:{self.port}'
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._blackout = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self, seconds: float) -> None:
        """A network outage: drop every connection now, refuse new ones for `seconds`."""
        self.cuts += 1
        self._blackout.set()
        with self._lock:
            doomed, self._open = list(self._open), set()
        for sock in doomed:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        threading.Timer(seconds, self._blackout.clear).start()

    def _answered(self, chunk: bytes) -> None:
        if self._cut_on is not None and self._cut_on in chunk:
            self._cut_on = None
            self.cut(self._cut_seconds)

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self._blackout.is_set():
            client.close()
            return
        upstream = socket.create_connection(('127.0.0.1', self.upstream_port))
        with self._lock:
            self._open.update((client, upstream))
        request = _read_request(client)
        with self._lock:
            drop = request.startswith(b'POST ') and self.drops_left > 0
            if drop:
                self.drops_left -= 1
        upstream.sendall(request)
        if drop:
            answer = b''
            while b'\r\n\r\n' not in answer:  # the server has answered: the run exists
                chunk = upstream.recv(65536)
                if not chunk:
                    break
                answer += chunk
            self.dropped_requests.append(request)
            client.close()
            upstream.close()
            return
        threading.Thread(target=_pipe, args=(upstream, client, self._answered), daemon=True).start()
        _pipe(client, upstream)
