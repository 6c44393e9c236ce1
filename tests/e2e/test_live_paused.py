"""A team server's event listener loses Redis (its own redis-server, killed, as tests/api/test_outages.py does) while
a person watches a project page and a run page in Chromium: both say in one banner that live updates are paused,
since when, and that what they show may be out of date (the header chip says paused, not offline). A run ends while
paused, unseen. When Redis is back each page reads again what it shows, and only then the banner leaves: the run's
new status and last lines are there when it goes."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.axe import axe_violations, by_rule
from tests.helpers.e2e import HEADER_CUT, Stack, gates_dir, screenshot, stack
from tests.helpers.own_redis import own_redis
from tests.helpers.servers import free_port

pytestmark = pytest.mark.e2e
BANNER = (
    'Live updates paused: the server lost its connection to Redis. What you see may be out of date; it refreshes by '
    'itself when live updates resume.'
)


def wait_status(env: Stack, run_id: str, wanted: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with env.api() as api:
        while (status := api.get(f'/api/runs/{run_id}', params={'events_limit': 0}).json()['status']) != wanted:
            assert time.monotonic() < deadline, status
            time.sleep(0.1)


def test_pages_say_live_updates_are_paused_and_read_again_before_the_banner_goes(page: Page, tmp_path) -> None:  # noqa: ANN001
    port = free_port()
    gate = gates_dir(tmp_path) / 'go'
    script = f'echo "before the gate"\nwhile [ ! -f {gate} ]; do sleep 0.1; done\necho "after the gate"\n'
    team = {
        'RUNBOARD_REDIS_URL': f'redis://127.0.0.1:{port}/0',  # team mode on SQLite: Redis is what it may lose
        'RUNBOARD_LOCAL_ACCOUNT': 'true',  # the stack's clients use the bootstrap token (credentials.json)
        'RUNBOARD_ALLOW_LOCAL_REPOSITORIES': 'true',
    }
    with own_redis(port) as redis_server, stack(tmp_path, {'main': {'run.sh': script}}, **team) as env:
        env.create_project('alpha')
        run = env.trigger('alpha', 'main').json()
        wait_status(env, run['id'], 'running')

        page.goto(f'{env.ui_url}/projects/alpha')
        runs = page.get_by_test_id('runs')
        row = runs.locator(f'[role=listitem][data-run={run["id"]}]')
        expect(runs).to_have_attribute('data-live', 'true')
        expect(row).to_have_attribute('data-status', 'running')
        picker = page.get_by_test_id('branch')  # the Run form's branch, marked busy while the run holds it
        expect(picker).to_have_value(f'main  (base)  · busy: {run["id"]}')
        run_tab = page.context.new_page()
        run_tab.goto(f'{env.ui_url}/runs/{run["id"]}')
        expect(run_tab.get_by_test_id('output')).to_contain_text('before the gate')
        for tab in (page, run_tab):
            expect(tab.get_by_test_id('live-paused')).to_have_count(0)
            expect(tab.get_by_test_id('live-updates')).to_be_attached()  # the live region is there, empty
            expect(tab.get_by_test_id('live-updates')).to_have_text('')

        redis_server.terminate()
        redis_server.wait(10)
        for tab in (page, run_tab):
            banner = tab.get_by_test_id('live-paused')
            expect(banner).to_be_visible(timeout=20_000)
            expect(banner).to_contain_text(BANNER)
            expect(banner).to_contain_text(' UTC')  # since when: the moment the server's listener lost Redis
            expect(tab.get_by_test_id('provenance')).to_contain_text('live updates paused')  # not "offline"
            expect(tab.get_by_test_id('provenance')).to_have_attribute('data-level', 'amber')
        expect(page.get_by_test_id('live')).to_have_text('‖ live updates paused')
        expect(runs).to_have_attribute('data-live', 'false')
        screenshot(page, 'live-paused-project.png')
        screenshot(run_tab, 'live-paused-run.png')
        # the banner itself passes axe, and on a phone in the dark it wraps with nothing cut or past the edge
        found = axe_violations(page, 'project page, live updates paused')
        run_tab.emulate_media(color_scheme='dark')
        run_tab.set_viewport_size({'width': 390, 'height': 844})
        run_tab.wait_for_function("document.body.classList.contains('body--dark')")
        found += axe_violations(run_tab, 'run page, live updates paused, dark 390px')
        assert not found, f'{by_rule(found)}:\n' + '\n'.join(v.line() for v in found)
        assert run_tab.evaluate(HEADER_CUT) == []
        screenshot(run_tab, 'live-paused-run-phone-dark.png')

        gate.touch()  # the run ends while the pages cannot hear it
        wait_status(env, run['id'], 'succeeded')
        time.sleep(2)  # two reconnect attempts: still refused, the pages still show what they had, under the banner
        expect(row).to_have_attribute('data-status', 'running')
        expect(page.get_by_test_id('live-paused')).to_be_visible()
        expect(run_tab.get_by_test_id('output')).not_to_contain_text('after the gate')
        expect(run_tab.get_by_test_id('live-paused')).to_be_visible()

        with own_redis(port):  # Redis back, empty, no restart of anything
            for tab in (page, run_tab):
                tab.get_by_test_id('live-paused').wait_for(state='detached', timeout=30_000)
            # read again before the banner went (the same websocket carried both, in order): no wait here
            assert row.get_attribute('data-status') == 'succeeded'
            assert picker.input_value() == 'main  (base)'  # the branch it freed, read again too
            assert 'after the gate' in run_tab.get_by_test_id('output').inner_text()
            assert (
                run_tab.get_by_test_id('run-header').locator('[data-status]').first.get_attribute('data-status')
                == 'succeeded'
            )
            for tab in (page, run_tab):
                # a screen reader, which heard it pause, hears that it resumed; nothing stays on screen
                expect(tab.get_by_test_id('live-updates')).to_have_text('Live updates resumed.')
                resumed = tab.get_by_test_id('live-updates-resumed')
                assert resumed.evaluate('el => el.getBoundingClientRect().width <= 1')  # sr-only: not on screen
                expect(tab.get_by_test_id('provenance')).not_to_contain_text('paused')
            expect(runs).to_have_attribute('data-live', 'true')
            expect(page.get_by_test_id('live')).to_have_text('● live')
            screenshot(page, 'live-resumed-project.png')
