"""A small local HTTP server speaking the subset of the Gitea and GitHub REST APIs Runboard uses."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class ForgeState:
    kind: str  # 'gitea' | 'github'
    token: str = 'tok'
    issues: list[dict] = field(default_factory=list)
    pulls: list[dict] = field(default_factory=list)
    branches: list[dict] = field(default_factory=list)  # {name, sha, date, message}
    delay: float = 0.0
    status: int | None = None  # force an error status
    requests: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)  # each GET's Host header
    clone_url: str | None = None  # what GET /repos/o/r answers as the repository's clone URL
    files: dict[int, list[dict]] = field(default_factory=dict)  # pull number -> its files (filename, +/-, status)
    diffs: dict[int, str] = field(default_factory=dict)  # pull number -> its unified diff (Gitea's `.diff`)
    statuses: dict[str, list[dict]] = field(default_factory=dict)  # commit sha -> its statuses
    posted_pulls: list[dict] = field(default_factory=list)  # what POST /repos/o/r/pulls received

    def add_issue(
        self, number: int, title: str, labels: list[str], *, body: str = '', state: str = 'open', is_pull: bool = False
    ) -> None:
        item = {
            'number': number,
            'title': title,
            'body': body,
            'state': state,
            'labels': [{'name': name} for name in labels],
        }
        if is_pull:
            item['pull_request'] = {'url': 'x'}
        self.issues.append(item)

    def add_pull(
        self,
        head: str,
        *,
        state: str = 'open',
        merged: bool = False,
        title: str = '',
        base: str = 'main',
        sha: str | None = None,
    ) -> dict:
        number = 100 + len(self.pulls)
        pull = {
            'number': number,
            'title': title or f'PR {number}',
            'state': state,
            'head': {'ref': head, 'sha': sha or f'{number:040d}'},
            'base': {'ref': base},
            'merged': merged,
            'merged_at': '2026-01-01T00:00:00Z' if merged else None,
            'html_url': f'http://forge.example/o/r/pulls/{number}',
        }
        self.pulls.append(pull)
        return pull


def _handler(state: ForgeState):  # noqa: ANN202
    prefix = '/api/v1' if state.kind == 'gitea' else ''

    def auth() -> str:  # read per request: a test may set the token after the server started
        return f'token {state.token}' if state.kind == 'gitea' else f'Bearer {state.token}'

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - an agent opening its pull request (Gitea: POST /repos/o/r/pulls)
            state.requests.append(f'POST {self.path}')
            if self.headers.get('Authorization') != auth():
                return self._send(401, {'message': 'Bad credentials'})
            body = json.loads(self.rfile.read(int(self.headers.get('Content-Length') or 0)) or b'{}')
            if urlsplit(self.path).path.removeprefix(prefix) != '/repos/o/r/pulls' or not body.get('head'):
                return self._send(422, {'message': 'head and base are required'})
            state.posted_pulls.append(body)
            title, base = str(body.get('title') or ''), str(body.get('base') or 'main')
            pull = state.add_pull(body['head'], title=title, base=base)
            return self._send(201, pull)

        def _send_text(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header('Content-Type', 'text/plain; charset=utf-8')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            state.requests.append(self.path)
            state.hosts.append(str(self.headers.get('Host')))
            if state.delay:
                time.sleep(state.delay)
            if state.status:
                return self._send(state.status, {'message': 'forced'})
            if self.headers.get('Authorization') != auth():
                return self._send(401, {'message': 'Bad credentials'})
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            path = url.path.removeprefix(prefix)
            if path.rstrip('/') == '/repos/o/r' and state.clone_url:
                return self._send(200, {'name': 'r', 'clone_url': state.clone_url, 'default_branch': 'main'})
            if not path.startswith('/repos/o/r/'):
                return self._send(404, {'message': 'Not Found'})
            resource = path[len('/repos/o/r/') :]
            size = int(query.get('limit') or query.get('per_page') or 30)
            page = int(query.get('page') or 1)

            def paged(items: list) -> None:
                self._send(200, items[(page - 1) * size : page * size])

            if resource == 'issues':
                items = [i for i in state.issues if i['state'] == query.get('state', 'open')]
                if 'labels' in query:
                    items = [i for i in items if query['labels'] in [lb['name'] for lb in i['labels']]]
                if state.kind == 'gitea' and query.get('type') == 'issues':
                    items = [i for i in items if 'pull_request' not in i]
                return paged(items)
            if resource.startswith('issues/') and resource.split('/', 1)[1].isdigit():
                number = int(resource.split('/', 1)[1])
                for issue in state.issues:
                    if issue['number'] == number:
                        return self._send(200, {**issue, 'html_url': f'http://forge.example/o/r/issues/{number}'})
                return self._send(404, {'message': 'Not Found'})
            if resource.startswith('pulls/') and resource.endswith('.diff'):
                number = int(resource[len('pulls/') : -len('.diff')])
                if number in state.diffs:
                    return self._send_text(200, state.diffs[number])
                return self._send(404, {'message': 'Not Found'})
            if resource.startswith('pulls/') and resource.endswith('/files'):
                return paged(state.files.get(int(resource.split('/')[1]), []))
            if resource.startswith('commits/') and resource.endswith('/status'):
                sha = resource.split('/')[1]
                found = state.statuses.get(sha, [])
                return self._send(200, {'sha': sha, 'state': found[-1]['status'] if found else '', 'statuses': found})
            if resource == 'pulls':
                items = list(state.pulls)
                if state.kind == 'github' and 'head' in query:
                    owner, _, ref = query['head'].partition(':')
                    items = [p for p in items if p['head']['ref'] == ref and owner == 'o']
                return paged(items)
            if resource == 'branches':
                if state.kind == 'gitea':
                    return paged(
                        [
                            {
                                'name': b['name'],
                                'commit': {'id': b['sha'], 'message': b['message'], 'timestamp': b['date']},
                            }
                            for b in state.branches
                        ]
                    )
                return paged([{'name': b['name'], 'commit': {'sha': b['sha']}} for b in state.branches])
            if resource.startswith('commits/') and state.kind == 'github':
                sha = resource.split('/', 1)[1]
                for b in state.branches:
                    if b['sha'] == sha:
                        return self._send(
                            200, {'sha': sha, 'commit': {'message': b['message'], 'committer': {'date': b['date']}}}
                        )
            return self._send(404, {'message': 'Not Found'})

    return Handler


@contextmanager
def fake_forge(kind: str) -> Iterator[tuple[ForgeState, str]]:
    """Yields the forge's state and its API root URL."""
    state = ForgeState(kind)
    server = ThreadingHTTPServer(('127.0.0.1', 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    root = f'http://127.0.0.1:{server.server_address[1]}' + ('/api/v1' if kind == 'gitea' else '')
    try:
        yield state, root
    finally:
        server.shutdown()
        server.server_close()
