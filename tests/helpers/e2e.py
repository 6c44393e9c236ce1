"""The E2E stack: API server (python main.py) <- fault proxy <- UI process (python main.py --server PROXY),
and screenshots of the pages Chromium shows."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import httpx

from app.infra.http import tls_context
from tests.e2e.proxy import FaultProxy
from tests.helpers.repos import make_repo
from tests.helpers.servers import ROOT, app_process, live_sign_in_urls, sign_in_listeners

# how every E2E test starts Chromium (`browser` fixture and the tests that launch their own)
CHROMIUM_ARGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
]
# Where the screenshots go: build/screenshots (git-ignored), so a test run leaves the tree as it was. The README's
# pictures (docs/screenshots) are refreshed only on purpose: scripts/screenshots.sh points this there.
SCREENSHOTS = Path(os.environ.get('RUNBOARD_SCREENSHOTS_DIR') or ROOT / 'build' / 'screenshots')

BRANCHES = {
    'main': {'run.sh': 'echo hello\n'},
    'feature/login': {'login.txt': 'x\n'},
    'feature/search': {'search.txt': 'x\n'},
    'fix/typo': {'typo.txt': 'x\n'},
    **{f'quota/b{i}': {f'q{i}.txt': 'x\n'} for i in range(12)},
}


@contextmanager
def ui_process(data_dir: Path, server_url: str, token: str) -> Iterator[tuple[str, int]]:
    """`python main.py --server URL` (UI only, no API of its own), env cleaned like app_process does."""
    with app_process(
        data_dir,
        args=['--server', server_url],
        env={'RUNBOARD_TOKEN': token},
        log_path=data_dir / 'ui.log',
        ready_path='/',
    ) as ui:
        yield ui['url'], ui['process'].pid


class BrowserSignIn:
    """Signs every browser context in to every login-free server that runs (app/local_sign_in.py) through the link
    the server printed at start, once per context and server, as the person who started it is: a test opens
    pages as before. Contexts made after a server started sign in at once; servers started later sign in the
    open contexts."""

    def __init__(self, browser) -> None:  # noqa: ANN001
        self.contexts: list = []
        self.original_new_context, self.original_new_page = browser.new_context, browser.new_page
        browser.new_context, browser.new_page = self.new_context, self.new_page
        sign_in_listeners.append(self.server_started)

    def new_context(self, **options):  # noqa: ANN003, ANN201
        return self.track(self.original_new_context(**options))

    def new_page(self, **options):  # noqa: ANN003, ANN201
        page = self.original_new_page(**options)  # in a context of its own, closed with the page
        self.track(page.context)
        return page

    def track(self, context):  # noqa: ANN001, ANN201
        self.contexts.append(context)
        context.on('close', lambda _: context in self.contexts and self.contexts.remove(context))
        for url in live_sign_in_urls:
            sign_in(context, url)
        return context

    def server_started(self, url: str) -> None:
        for context in list(self.contexts):
            sign_in(context, url)

    def close(self) -> None:
        sign_in_listeners.remove(self.server_started)


def sign_in(context, url: str) -> None:  # noqa: ANN001
    """Open a server's sign-in link in this context (its cookie jar is the pages'): 303 with the cookie."""
    reply = context.request.get(url, max_redirects=0)
    assert reply.status == 303, f'{url}: {reply.status}'


@dataclass
class Stack:
    api_url: str
    ui_url: str
    token: str
    proxy: FaultProxy
    repo: Path
    ui_pid: int
    base: Path | None = None  # where the API's and the UI's data dirs (and logs) are

    def logs(self) -> list[Path]:
        """The API server's and the UI process's logs."""
        assert self.base is not None
        return [self.base / 'api' / 'server.log', self.base / 'ui' / 'ui.log']

    def assert_no_server_error(self, *also: str) -> None:
        """Neither log holds a traceback (nor any of `also`); a failure quotes what it found, since the logs go
        with the test's temporary folder."""
        for log in self.logs():
            text = log.read_text(errors='replace')
            for mark in ('Traceback', *also):
                at = text.find(mark)
                assert at < 0, f'{log}:\n{text[max(0, at - 1500) : at + 3000]}'

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.api_url,
            headers={'Authorization': f'Bearer {self.token}'},
            timeout=30,
            verify=tls_context(),
        )

    def create_project(self, project_id: str, **fields) -> dict:  # noqa: ANN003
        body = {
            'id': project_id,
            'name': project_id.title(),
            'repository': str(self.repo),
            'base_branch': 'main',
            'command': ['sh', 'run.sh'],
            'depth_levels': ['shallow', 'deep'],
            'target_frameworks': ['python', 'node'],
            **fields,
        }
        with self.api() as api:
            reply = api.post('/api/projects', json=body)
        assert reply.status_code == 201, reply.text
        return reply.json()

    def trigger(self, project_id: str, branch: str, **headers: str) -> httpx.Response:
        with self.api() as api:
            return api.post(
                '/api/runs',
                json={
                    'project_id': project_id,
                    'branch': branch,
                    'depth_level': 'shallow',
                    'target_framework': 'python',
                },
                headers=headers,
            )

    def runs(self, project_id: str) -> list[dict]:
        with self.api() as api:
            return api.get('/api/runs', params={'project': project_id, 'limit': 500}).json()['items']

    def stop_active(self) -> None:
        with self.api() as api:
            for run in api.get('/api/runs', params={'status': 'queued,running', 'limit': 500}).json()['items']:
                api.post(f'/api/runs/{run["id"]}/stop')

    def quota(self) -> dict:
        with self.api() as api:
            return api.get('/api/quota/runs').json()


def gates_dir(base: Path) -> Path:
    """Where a test's gate files go (a run waits until the test touches one): a folder the run sandbox shows
    read-only (RUNBOARD_SANDBOX_READ_ONLY_PATHS), since a run's own /tmp is private."""
    gates = base / 'gates'
    gates.mkdir(parents=True, exist_ok=True)
    return gates


@contextmanager
def stack(base: Path, branches: dict | None = None, **settings: str) -> Iterator[Stack]:
    repo = make_repo(base / 'repo', branches or BRANCHES)
    env = {
        'RUNBOARD_DEMO': 'false',
        'RUNBOARD_HEARTBEAT_SECONDS': '1',
        'RUNBOARD_SANDBOX_READ_ONLY_PATHS': str(gates_dir(base)),
        **settings,
    }
    api_dir = base / 'api'
    api_dir.mkdir(parents=True)
    with app_process(api_dir, env=env) as api:
        token = json.loads((api_dir / 'credentials.json').read_text())['token']
        proxy = FaultProxy('127.0.0.1', api['port']).start()
        try:
            with ui_process(base / 'ui', proxy.url, token) as (ui_url, ui_pid):
                yield Stack(api['url'], ui_url, token, proxy, repo, ui_pid, base)
        finally:
            proxy.stop()


class Added(NamedTuple):
    id: str
    token: str


class SignInServer:
    """A `python main.py` with RUNBOARD_UI_SIGN_IN, as a page test drives it: the operator's token, a repository, and
    people added through the API."""

    def __init__(self, url: str, operator: str, repo: Path) -> None:
        self.url, self.operator, self.repo = url, operator, repo

    def api(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={'Authorization': f'Bearer {token or self.operator}'}, timeout=30
        )

    def add_person(self, name: str, role: str) -> Added:
        with self.api() as api:
            reply = api.post('/api/users', json={'name': name, 'role': role})
        assert reply.status_code == 201, reply.text
        return Added(reply.json()['person']['id'], reply.json()['token']['token'])


def sign_in_page(page, server_url: str, token: str) -> None:  # noqa: ANN001
    """Sign the page's browser in with a token through the sign-in page, as a person does; it lands on the dashboard."""
    page.goto(server_url + '/login')
    page.locator('[data-testid=token-input] input, input[type=password]').first.fill(token)
    page.get_by_role('button', name='Sign in').click()
    page.wait_for_url(server_url + '/')


def screenshot(page, name: str) -> None:  # noqa: ANN001
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def expect_clipboard(page, text: str, timeout: float = 5_000) -> None:  # noqa: ANN001
    """The clipboard comes to hold `text`. A copy writes it asynchronously (and the browser's clipboard is shared
    with the tests before, so reading it at once can return what they copied)."""
    page.wait_for_function('s => navigator.clipboard.readText().then(t => t === s)', arg=text, timeout=timeout)


def wait_form_ready(page) -> None:  # noqa: ANN001
    """A project page as a person meets it before pressing Run: its runs list drawn and followed live (the page
    is built and its websocket is up), and Run enabled. A click sooner can land while the page is still being
    built; under two test processes on two cores that was seen to send nothing."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id('runs')).to_have_attribute('data-live', 'true')
    expect(page.get_by_test_id('run')).to_be_enabled()


# what in the header is cut (text wider than its box) or pushed past the screen's edge; hidden parts don't count
HEADER_CUT = """() => {
  const header = document.querySelector('header');
  if (!header) return [];
  const cut = [];
  for (const el of header.querySelectorAll('*')) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden' || el.offsetParent === null) continue;
    const box = el.getBoundingClientRect();
    if (box.right > window.innerWidth + 1) cut.push(`past the edge: ${el.outerHTML.slice(0, 80)}`);
    if (el.children.length === 0 && el.scrollWidth > el.clientWidth + 1 && el.textContent.trim())
      cut.push(`cut: "${el.textContent.trim()}"`);
  }
  return cut;
}"""
