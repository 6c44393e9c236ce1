"""Clickjacking: a page on another origin (a second loopback port) embeds Runboard's pages in iframes, and
Chromium shows them blank (X-Frame-Options DENY, CSP frame-ancestors 'none'); that page's own frame, a page
without the headers, renders, so the blank frames are the headers' doing. Opened at the top, the app works."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.helpers.e2e import screenshot
from tests.helpers.repos import make_repo
from tests.helpers.runs import create_project
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e

FRAMED = ('/', '/projects/proj', '/plain', '/workers', '/api/health/live')


@contextmanager
def other_origin(app_url: str) -> Iterator[str]:
    """The attacker's site on another loopback port: '/' frames each of Runboard's pages, and '/own' (a page
    of its own, without the headers) as the control."""
    frames = [('own', '/own')] + [(f'rb{n}', app_url + path) for n, path in enumerate(FRAMED)]
    page = '<h1>Win a prize</h1><script>window.loaded = [];</script>' + ''.join(
        f'<iframe id="{name}" src="{src}" width="400" height="200" onload="window.loaded.push(this.id)"></iframe>'
        for name, src in frames
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = (page if self.path == '/' else '<p id="mine">the attacker page renders</p>').encode()
            self.send_response(200)
            self.send_header('Content-Type', 'text/html; charset=utf-8')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}/'
    finally:
        server.shutdown()
        server.server_close()


def test_a_cross_origin_iframe_of_any_page_stays_blank(tmp_path: Path, page) -> None:  # noqa: ANN001
    data = tmp_path / 'data'
    repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': 'echo hi\n'}})
    with app_process(data, env={'RUNBOARD_DEMO': 'false'}) as app:
        token = json.loads((data / 'credentials.json').read_text())['token']
        with httpx.Client(base_url=app['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30) as api:
            create_project(api, repo)

        with other_origin(app['url']) as evil:
            page.goto(evil)
            page.wait_for_function(f'window.loaded.length === {len(FRAMED) + 1}')  # every frame has settled
            expect(page.frame_locator('#own').locator('#mine')).to_have_text('the attacker page renders')
            for n, path in enumerate(FRAMED):
                frame = page.locator(f'#rb{n}').element_handle().content_frame()
                assert frame is not None
                assert not frame.url.startswith(app['url']), (path, frame.url)  # Chromium's error page instead
                expect(page.frame_locator(f'#rb{n}').locator('body')).not_to_contain_text('Runboard')
                expect(page.frame_locator(f'#rb{n}').locator('body')).not_to_contain_text('Proj')
            screenshot(page, 'framing-blocked.png')

        page.goto(app['url'] + '/projects/proj')  # the top-level page (as the native window loads it) works
        expect(page.get_by_role('heading', name='Proj')).to_be_visible()
