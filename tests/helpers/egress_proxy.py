"""An egress HTTP proxy for tests, on a free loopback port: what a company's outbound proxy does with the two forms a
client sends it. An absolute-form request (`POST http://host:port/path`) is forwarded and its answer relayed; a
`CONNECT host:port` is tunnelled. Every request line is recorded (`seen`); a host that does not resolve gets 502."""

from __future__ import annotations

import http.client
import select
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class EgressProxy:
    url: str = ''
    seen: list[str] = field(default_factory=list)  # 'POST http://127.0.0.1:1234/hooks', 'CONNECT forge.example:443'


@contextmanager
def egress_proxy() -> Iterator[EgressProxy]:
    state = EgressProxy()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _forward(self) -> None:
            state.seen.append(f'{self.command} {self.path}')
            target = urlsplit(self.path)
            length = int(self.headers.get('content-length') or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ('proxy-connection', 'connection')}
            try:
                upstream = http.client.HTTPConnection(target.hostname or '', target.port or 80, timeout=10)
                upstream.request(self.command, target.path or '/', body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
            except OSError:
                self.send_error(502)
                return
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ('transfer-encoding', 'connection', 'content-length'):
                    self.send_header(name, value)
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _forward  # noqa: N815 - the standard library's names

        def do_CONNECT(self) -> None:  # noqa: N802
            state.seen.append(f'CONNECT {self.path}')
            host, _, port = self.path.rpartition(':')
            try:
                upstream = socket.create_connection((host, int(port)), timeout=10)
            except OSError:
                self.send_error(502)
                return
            self.send_response(200, 'Connection established')
            self.end_headers()
            sockets = [self.connection, upstream]
            while True:
                readable, _, _ = select.select(sockets, [], [], 10)
                if not readable:
                    break
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        upstream.close()
                        return
                    (upstream if sock is self.connection else self.connection).sendall(data)

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    state.url = f'http://127.0.0.1:{server.server_address[1]}'
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
