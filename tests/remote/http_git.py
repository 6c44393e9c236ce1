"""A smart-HTTP git server for tests: `git http-backend` run as CGI behind http.server. It requires Basic
auth with one user and token, and records every request (method, path, headers) for the tests to inspect."""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    status: int


class GitHttpServer:
    def __init__(self, root: Path, *, user: str, token: str) -> None:
        self.root = root
        self.user = user
        self.token = token
        self.delay = 0.0  # seconds to hold each ref advertisement, so tests can overlap fetches
        self.released = threading.Event()  # set: the holds end now
        self.held = 0  # ref advertisements held so far
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(('127.0.0.1', 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name='git-http', daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, name: str) -> str:
        return f'http://127.0.0.1:{self.port}/{name}'

    def start(self) -> GitHttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()

    def ref_advertisements(self) -> int:
        """Answered ref advertisements: one per clone or fetch that got past authentication."""
        with self._lock:
            return sum(1 for r in self.requests if '/info/refs' in r.path and r.status == 200)

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def authorized(self, header: str | None) -> bool:
        expected = base64.b64encode(f'{self.user}:{self.token}'.encode()).decode()
        return header == f'Basic {expected}'

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                self._serve()

            def do_POST(self) -> None:  # noqa: N802
                self._serve()

            def _body(self) -> bytes:
                if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
                    chunks = []
                    while size := int(self.rfile.readline().strip().split(b';')[0], 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                    return b''.join(chunks)
                return self.rfile.read(int(self.headers.get('Content-Length') or 0))

            def _serve(self) -> None:
                headers = dict(self.headers.items())
                if not server.authorized(self.headers.get('Authorization')):
                    server._record(Request(self.command, self.path, headers, 401))
                    self.send_response(401)
                    self.send_header('WWW-Authenticate', 'Basic realm="git"')
                    self.send_header('Content-Length', '0')
                    self.end_headers()
                    return
                if '/info/refs' in self.path and server.delay:
                    with server._lock:
                        server.held += 1
                    server.released.wait(server.delay)
                status, reply_headers, body = self._backend(self._body())
                server._record(Request(self.command, self.path, headers, status))
                self.send_response(status)
                for name, value in reply_headers:
                    self.send_header(name, value)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _backend(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
                url = urlsplit(self.path)
                env = {
                    'PATH': os.environ['PATH'],
                    'GIT_PROJECT_ROOT': str(server.root),
                    'GIT_HTTP_EXPORT_ALL': '1',
                    'REQUEST_METHOD': self.command,
                    'PATH_INFO': url.path,
                    'QUERY_STRING': url.query,
                    'CONTENT_TYPE': self.headers.get('Content-Type', ''),
                    'CONTENT_LENGTH': str(len(body)),
                    'HTTP_CONTENT_ENCODING': self.headers.get('Content-Encoding', ''),
                    'GIT_PROTOCOL': self.headers.get('Git-Protocol', ''),
                    'REMOTE_USER': server.user,
                    'REMOTE_ADDR': '127.0.0.1',
                }
                out = subprocess.run(
                    ['git', 'http-backend'], input=body, env=env, capture_output=True, check=False
                ).stdout
                head, _, payload = out.partition(b'\r\n\r\n')
                if not _:
                    head, _, payload = out.partition(b'\n\n')
                status, headers = 200, []
                for line in head.decode('latin-1').splitlines():
                    name, _, value = line.partition(':')
                    if name.lower() == 'status':
                        status = int(value.split()[0])
                    elif name:
                        headers.append((name, value.strip()))
                return status, headers, payload

        return Handler
