"""EnvProvenance in Chromium: the header chip says local or team mode, the server a UI-only process talks to,
the versions (amber when the UI and the server are different builds), who you are; red while the live stream
is down, and back when it returns."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from app.build_info import this_build
from tests.helpers.backends import REDIS_URL, require_team_services
from tests.helpers.e2e import screenshot, stack
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e


def open_details(page: Page) -> dict[str, str]:
    page.get_by_test_id('provenance').click()
    details = page.get_by_test_id('provenance-details')
    expect(details).to_be_visible()
    facts = details.locator('[data-fact]')
    found = {
        facts.nth(i).get_attribute('data-fact'): facts.nth(i).locator('.font-mono').inner_text()
        for i in range(facts.count())
    }
    page.keyboard.press('Escape')
    expect(details).to_be_hidden()  # faded out: the screenshots after it show the page, not a half-gone popup
    return found


def test_a_local_app_says_local_with_its_version_and_your_role(tmp_path, page: Page) -> None:  # noqa: ANN001
    with app_process(tmp_path / 'data', env={'RUNBOARD_DEMO': 'false'}) as app:
        page.goto(app['url'] + '/')
        chip = page.get_by_test_id('provenance')
        expect(chip).to_have_attribute('data-level', 'ok')
        expect(chip).to_contain_text(f'local · {this_build().label} · operator')
        facts = open_details(page)
        assert facts['server'] == 'this process' and facts['database'] == 'sqlite'
        assert facts['UI version'] == facts['server version'] == this_build().label
        page.get_by_test_id('provenance').click()
        with page.context.expect_page() as opened:  # the API reference, served by this process even offline
            page.get_by_test_id('api-reference').click()
        reference = opened.value
        expect(reference.locator('.opblock').first).to_be_visible(timeout=15_000)
        expect(reference.locator('button.authorize').first).to_be_visible()
        reference.close()


def test_a_ui_on_another_build_of_a_team_server_is_amber_and_red_while_the_stream_is_down(tmp_path, page: Page) -> None:  # noqa: ANN001
    require_team_services()
    with stack(tmp_path, RUNBOARD_REDIS_URL=REDIS_URL, RUNBOARD_BUILD_VERSION='9.9.9') as env:
        page.goto(env.ui_url + '/')
        expect(page.get_by_test_id('runs')).to_have_attribute('data-live', 'true')
        chip = page.get_by_test_id('provenance')
        host = env.proxy.url.removeprefix('http://')
        expect(chip).to_have_attribute('data-level', 'amber')
        expect(chip).to_contain_text(f'team · {host} · UI {this_build().version} ≠ server 9.9.9 · operator')
        facts = open_details(page)
        assert facts['mode'] == 'team' and facts['server'] == host
        assert facts['UI version'].endswith('(differs from the server)')
        screenshot(page, 'provenance-skew.png')

        env.proxy.stop()  # the UI can no longer reach the server: the page may be showing old data
        expect(chip).to_have_attribute('data-level', 'red', timeout=15_000)
        expect(chip).to_contain_text('offline')
        screenshot(page, 'provenance-offline.png')
        env.proxy.start()  # the same port again
        expect(chip).to_have_attribute('data-level', 'amber', timeout=15_000)
