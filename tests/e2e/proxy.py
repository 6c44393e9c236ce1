"""A fault-injecting HTTP/1.1 proxy between the UI process and the API (asyncio, its own thread).

Every client request is forwarded on a fresh upstream connection (Connection: close), and the answer is
relayed byte for byte (server-sent event streams included) before the client connection is closed.
A test arms rules: `proxy.add_rule('POST', '/api/runs', 'delay', seconds=2)`; each rule fires for its
`times` matching requests (None: until cleared). Actions:
  delay        wait `seconds`, then forward (every action waits `seconds` first)
  fail500      answer 500 problem+json without forwarding
  drop         close the connection without forwarding (the server never sees the request)
  drop_reply   forward, let the server answer, then close without relaying the answer
  delay_reply  forward, let the server answer, then wait `seconds` before relaying it (a read that arrives stale)
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field


@dataclass
class Rule:
    method: str
    path: str
    action: str
    times: int | None = 1
    seconds: float = 0.0
    hits: int = 0
    skip: int = 0  # let this many matching requests through untouched first


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    action: str | None
    replied_at: float | None = None  # time.time() when the answer was fully relayed to the client


@dataclass
class FaultProxy:
    upstream_host: str
    upstream_port: int
    port: int = 0
    rules: list[Rule] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task] = set()

    # -- control (from the test thread)
    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    def add_rule(
        self, method: str, path: str, action: str, *, times: int | None = 1, seconds: float = 0.0, skip: int = 0
    ) -> Rule:
        rule = Rule(method.upper(), path, action, times, seconds, skip=skip)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.seen.clear()

    def requests(self, method: str, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.method == method and s.path == path]

    def start(self) -> FaultProxy:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._server = self._loop.run_until_complete(asyncio.start_server(self._accept, '127.0.0.1', self.port))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name='fault-proxy')
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def close() -> None:
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    # -- the proxy
    def _match(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.method == method and rule.path == path and (rule.times is None or rule.hits < rule.times):
                    if rule.skip:
                        rule.skip -= 1
                        return None
                    rule.hits += 1
                    return rule
        return None

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Each connection's task held here until it ends: asyncio's stream protocol lets go of it when the client
        disconnects, and a pending task nothing holds is destroyed mid-relay (with a warning on stderr)."""
        task = asyncio.get_running_loop().create_task(self._handle(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b'\r\n\r\n')
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        lines = head.decode('latin-1').split('\r\n')
        method, target, _ = lines[0].split(' ', 2)
        headers = {}
        for line in lines[1:]:
            if ':' in line:
                name, value = line.split(':', 1)
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get('content-length', '0') or 0))
        path = target.split('?', 1)[0]
        rule = self._match(method, path)
        seen = Seen(method, path, headers, rule.action if rule else None)
        with self._lock:
            self.seen.append(seen)
        try:
            if rule and rule.seconds and rule.action != 'delay_reply':
                await asyncio.sleep(rule.seconds)
            if rule and rule.action == 'drop':
                writer.transport.abort()
                return
            if rule and rule.action == 'fail500':
                payload = json.dumps(
                    {
                        'type': 'about:blank',
                        'title': 'Internal Server Error',
                        'status': 500,
                        'detail': 'Injected failure.',
                        'error': 'internal',
                        'correlation_id': headers.get('x-correlation-id', 'proxy'),
                    }
                ).encode()
                writer.write(
                    b'HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/problem+json\r\n'
                    b'content-length: ' + str(len(payload)).encode() + b'\r\nconnection: close\r\n\r\n' + payload
                )
                await writer.drain()
                writer.close()
                return
            await self._forward(
                method,
                target,
                lines[1:],
                body,
                writer,
                drop_reply=bool(rule and rule.action == 'drop_reply'),
                reply_delay=rule.seconds if rule and rule.action == 'delay_reply' else 0.0,
            )
            seen.replied_at = time.time()
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            writer.transport.abort()
        except asyncio.CancelledError:  # the proxy is stopping
            writer.transport.abort()

    async def _forward(
        self,
        method: str,
        target: str,
        header_lines: list[str],
        body: bytes,
        writer: asyncio.StreamWriter,
        *,
        drop_reply: bool,
        reply_delay: float = 0.0,
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        kept = [line for line in header_lines if line and not line.lower().startswith(('connection:', 'host:'))]
        request = [
            f'{method} {target} HTTP/1.1',
            f'host: {self.upstream_host}:{self.upstream_port}',
            'connection: close',
            *kept,
            '',
            '',
        ]
        up_writer.write('\r\n'.join(request).encode('latin-1') + body)
        await up_writer.drain()
        try:
            if drop_reply:
                await up_reader.read()  # the server finishes its work and answers; the client never hears it
                writer.transport.abort()
                return
            if reply_delay:  # the server has answered; the client hears it later
                answer = await up_reader.read()
                await asyncio.sleep(reply_delay)
                writer.write(answer)
                await writer.drain()
                writer.close()
                return
            while True:
                chunk = await up_reader.read(65536)
                if not chunk:
                    break
                writer.write(chunk)
                await writer.drain()
            writer.close()
        finally:
            up_writer.close()
