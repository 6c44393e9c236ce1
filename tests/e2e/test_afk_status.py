"""The AFK controls' status says what the loop does, in Chromium: ready issues waiting for the loop's next sweep read
"Waiting: 2 ready issues; next launch in …" (never "Idle"), counted down by the browser, on the project page and its
dashboard card; the status follows the loop live as it works through them ("Running #1", "Running #2") until none is
left ("Idle: no ready issues")."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.afk.fake_forge import fake_forge
from tests.helpers.axe import axe_violations, by_rule
from tests.helpers.e2e import screenshot
from tests.helpers.repos import make_repo
from tests.helpers.runs import create_project
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e

# each AFK run fails after a moment (long enough to be seen running); two failures do not pause the loop
AGENT = '#!/bin/sh\nsleep 2\necho "tests: 1 failed" >&2\nexit 1\n'


def _until(predicate, what: str, timeout: float = 60):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return value


def _sweep_is_an_hour_off(api: httpx.Client) -> bool:
    """The sweep switching auto on woke has come: the next one is the interval's."""
    moment = api.get('/api/projects/agent').json()['afk_next_sweep_at']
    return moment is not None and datetime.fromisoformat(moment) > datetime.now(UTC) + timedelta(minutes=30)


def test_ready_issues_waiting_for_the_next_sweep_are_said_and_followed_live(tmp_path: Path, browser: Browser) -> None:
    data = tmp_path / 'data'
    data.mkdir()
    # a sweep an hour apart: between sweeps, forge issues (no event announces them) wait for the next one
    env = {'RUNBOARD_AFK_SWEEP_SECONDS': '3600', 'RUNBOARD_DEMO': 'false', 'RUNBOARD_REAPER_POLL_SECONDS': '0.5'}
    with fake_forge('gitea') as (forge, root):
        repo = make_repo(tmp_path / 'repo', {'main': {'agent.sh': AGENT}})
        with app_process(data, env=env) as app:
            token = json.loads((data / 'credentials.json').read_text())['token']
            api = httpx.Client(base_url=app['url'], headers={'Authorization': f'Bearer {token}'}, timeout=30)
            source = {'kind': 'gitea', 'api_url': root, 'owner': 'o', 'repo': 'r', 'token': 'tok', 'timeout_seconds': 5}
            create_project(api, repo, project_id='agent', command=['sh', 'agent.sh'], issue_source=source)
            assert api.post('/api/afk/auto/agent', json={'enabled': True}).status_code == 200  # a sweep: none ready
            _until(lambda: _sweep_is_an_hour_off(api), 'the sweep that switching auto on asked for did not come')
            forge.add_issue(1, 'Login answers 500', ['ready-for-agent'])
            forge.add_issue(2, 'Remember the last project', ['ready-for-agent'])
            _until(lambda: api.get('/api/projects/agent').json()['ready_count'] == 2, 'the forge issues were not read')

            page = browser.new_page(viewport={'width': 1280, 'height': 1000})
            try:
                page.goto(app['url'] + '/projects/agent')
                status = page.locator('[data-testid=afk-controls] [data-card-status]')
                expect(status).to_have_text(re.compile(r'^Waiting: 2 ready issues; next launch in \d+ (min|s)$'))
                expect(status).to_have_attribute('data-card-status', 'waiting')
                expect(status).to_have_attribute('title', re.compile(r"^The loop's next sweep: .* UTC$"))
                # the browser counts it down, as the page's other times ahead
                expect(status).to_have_attribute('data-rb-prefix', 'Waiting: 2 ready issues; next launch ')
                page.locator('[data-testid=afk-controls]').scroll_into_view_if_needed()
                screenshot(page, 'afk-status-waiting.png')
                found = axe_violations(page, 'afk-status-waiting')
                assert not found, f'{by_rule(found)}:\n' + '\n'.join(v.line() for v in found)

                dashboard = browser.new_page(viewport={'width': 390, 'height': 844})  # the card, a phone's width
                try:
                    dashboard.goto(app['url'] + '/')
                    card_status = dashboard.locator('[data-project=agent] [data-card-status]')
                    expect(card_status).to_have_text(re.compile(r'^Waiting: 2 ready issues; next launch in '))
                    card_status.scroll_into_view_if_needed()
                    screenshot(dashboard, 'afk-status-waiting-card.png')

                    # a person starts one by hand: the status follows the runs, and the loop takes the rest when
                    # that run ends (its end wakes the sweep)
                    assert api.post('/api/afk/start/agent').status_code == 201
                    expect(status).to_have_text('Running #1')
                    expect(card_status).to_have_text('Running #1')
                    expect(status).not_to_have_attribute('data-rb-until', re.compile('.'))
                    expect(status).to_have_text('Running #2', timeout=30_000)
                    expect(status).to_have_text('Idle: no ready issues', timeout=30_000)
                    expect(card_status).to_have_text('Idle: no ready issues')
                finally:
                    dashboard.close()
            finally:
                page.close()
                api.close()
