"""A loopback forge API for commit statuses: answers `POST .../statuses/{sha}` as GitHub, Gitea or GitLab
document it, and checks every request's shape (path, authorization, JSON fields and their values) before it
answers; a request of the wrong shape is answered 422 and recorded in `wrong`. `answers` are the next status
codes, in order (then 201), an error answered with a `message` as the forges word theirs. GitLab's own rule holds:
a status still pending (or running) cannot be set to the state it is in (400, `Cannot transition status via :enqueue
from :pending`). With `held=True` no request is answered (nor recorded) until the test calls `release()`: a forge
that does not answer."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATES = {
    'github': {'pending', 'success', 'failure', 'error'},
    'gitea': {'pending', 'success', 'failure', 'error', 'warning'},
    'gitlab': {'pending', 'running', 'success', 'failed', 'canceled'},
}
PATHS = {
    # GitHub: POST /repos/{owner}/{repo}/statuses/{sha}; Gitea: the same under /api/v1
    'github': re.compile(r'^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/statuses/(?P<sha>[0-9a-f]{40})$'),
    'gitea': re.compile(r'^/api/v1/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/statuses/(?P<sha>[0-9a-f]{40})$'),
    # GitLab: POST /projects/{id or url-encoded path}/statuses/{sha}
    'gitlab': re.compile(r'^/api/v4/projects/(?P<project>[^/]+)/statuses/(?P<sha>[0-9a-f]{40})$'),
}


MESSAGES = {422: 'No commit found for SHA: {sha}', 401: 'Bad credentials', 404: 'Not Found'}


@dataclass
class Posted:
    sha: str
    state: str
    target_url: str
    context: str
    description: str
    at: float


@dataclass
class ForgeApi:
    kind: str
    token: str
    root: str = ''
    answers: list[int] = field(default_factory=list)
    posted: list[Posted] = field(default_factory=list)
    tries: int = 0
    wrong: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    held: bool = False
    waiting: int = 0  # requests held unanswered now
    released: threading.Event = field(default_factory=threading.Event)
    current: dict[tuple[str, str], str] = field(default_factory=dict)  # each (sha, context)'s state now

    def release(self) -> None:
        self.released.set()

    def wait_for_held(self, count: int = 1, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.waiting < count:
            if time.monotonic() > deadline:
                raise AssertionError(f'{self.waiting} request(s) held, expected {count}')
            time.sleep(0.02)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Posted]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if self.wrong:
                    raise AssertionError(f'requests of the wrong shape: {self.wrong}')
                if len(self.posted) >= count:
                    return list(self.posted)
            if time.monotonic() > deadline:
                raise AssertionError(f'{len(self.posted)} commit status(es) accepted, expected {count}')
            time.sleep(0.02)

    def wait_for_state(self, state: str, timeout: float = 30.0) -> Posted:
        """Until a status in `state` was accepted; that status."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if self.wrong:
                    raise AssertionError(f'requests of the wrong shape: {self.wrong}')
                found = [posted for posted in self.posted if posted.state == state]
                if found:
                    return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f'no {state} status accepted: {self.posted}')
            time.sleep(0.02)

    def check(self, path: str, headers: dict[str, str], body: bytes) -> tuple[str | None, dict]:
        """(what is wrong, or None; the JSON body)."""
        match = PATHS[self.kind].match(path)
        if not match:
            return f'path {path}', {}
        if self.kind == 'github':
            if headers.get('authorization') != f'Bearer {self.token}':
                return 'authorization', {}
            if 'application/vnd.github+json' not in headers.get('accept', ''):
                return 'accept', {}
        elif self.kind == 'gitea':
            if headers.get('authorization') != f'token {self.token}':
                return 'authorization', {}
        elif headers.get('private-token') != self.token:
            return 'private-token', {}
        if not headers.get('content-type', '').startswith('application/json'):
            return 'content-type', {}
        try:
            data = json.loads(body)
        except ValueError:
            return 'body is not JSON', {}
        context_key = 'name' if self.kind == 'gitlab' else 'context'
        if data.get('state') not in STATES[self.kind]:
            return f'state {data.get("state")!r}', data
        if not str(data.get('target_url', '')).startswith(('http://', 'https://')):
            return 'target_url', data
        if not data.get(context_key):
            return context_key, data
        if len(str(data.get('description', ''))) > 140:
            return 'description longer than 140', data
        return None, {**data, 'sha': match['sha'], 'context': data.get(context_key)}


@contextmanager
def forge_api(
    kind: str, *, token: str = 'forge-token', answers: tuple[int, ...] = (), held: bool = False
) -> Iterator[ForgeApi]:
    state = ForgeApi(kind=kind, token=token, answers=list(answers), held=held)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the standard library's name
            body = self.rfile.read(int(self.headers.get('content-length') or 0))
            if state.held:
                with state.lock:
                    state.waiting += 1
                state.released.wait(timeout=120)
                with state.lock:
                    state.waiting -= 1
            headers = {k.lower(): v for k, v in self.headers.items()}
            wrong, data = state.check(self.path, headers, body)
            message = None
            with state.lock:
                state.tries += 1
                current = state.current.get((data.get('sha'), data.get('context')))
                if wrong:
                    state.wrong.append(wrong)
                    code = 422
                elif state.kind == 'gitlab' and current in ('pending', 'running') and data['state'] == current:
                    code = 400
                    event = {'pending': 'enqueue', 'running': 'run'}[current]
                    message = f'Cannot transition status via :{event} from :{current} (Reasons: )'
                else:
                    code = state.answers.pop(0) if state.answers else 201
                    if code >= 300:
                        message = MESSAGES.get(code, 'Server Error').format(sha=data['sha'])
                    if code < 300:
                        state.current[(data['sha'], data['context'])] = data['state']
                        state.posted.append(
                            Posted(
                                data['sha'],
                                data['state'],
                                data['target_url'],
                                data['context'],
                                str(data.get('description', '')),
                                time.time(),
                            )
                        )
            answer = {'message': message} if message else {'id': state.tries, 'state': data.get('state')}
            reply = json.dumps(answer).encode()
            self.send_response(code)
            self.send_header('content-type', 'application/json')
            self.send_header('content-length', str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    prefix = {'github': '', 'gitea': '/api/v1', 'gitlab': '/api/v4'}[kind]
    state.root = f'http://127.0.0.1:{server.server_address[1]}{prefix}'
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release()
        server.shutdown()
        server.server_close()
