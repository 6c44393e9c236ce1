"""Local mode asks who is there: a browser without the link gets a page saying to open it; the owner's browser,
opened on the link printed at start, lands on the page without the token in its address and works live (the
websocket and the live runs list answer) with no extra step."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.helpers.e2e import wait_form_ready
from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e


def test_the_start_link_signs_the_browser_in_and_nothing_else_does(page, tmp_path) -> None:  # noqa: ANN001
    with app_process(tmp_path / 'data', env={'RUNBOARD_DEMO': 'true', 'RUNBOARD_GLOBAL_RUN_CAP': '0'}) as app:
        page.context.clear_cookies()  # a browser that never opened the link (the harness signs every one in)
        refused = page.goto(app['url'] + '/projects/demo')
        assert refused is not None and refused.status == 401
        expect(page.get_by_role('heading', name='Open the sign-in link')).to_be_visible()
        expect(page.get_by_test_id('runs')).to_have_count(0)

        page.goto(app['sign_in_url'].replace('/?', '/projects/demo?'))  # the printed link, to a deep page
        expect(page).to_have_url(app['url'] + '/projects/demo')  # the token is not kept in the address
        wait_form_ready(page)  # built over the websocket and followed live
        assert 'runboard_local_' not in page.evaluate('document.cookie')  # HttpOnly: no script reads it
        assert app['sign_in_url'] not in page.evaluate('[...Array(history.length).keys()].join() + location.href')

        page.get_by_test_id('run').click()  # the form acts and opens the run (the cap of 0 keeps it queued)
        expect(page).to_have_url(re.compile(r'/runs/run_\w+$'))
        download = page.get_by_role('link', name='Download log').get_attribute('href')
        assert download is not None and page.context.request.get(app['url'] + download).status == 200
        page.goto(app['url'] + '/plain')
        expect(page.get_by_role('heading', name='Demo pipeline')).to_be_visible()


def test_local_mode_does_not_offer_to_revoke_its_own_sign_in_token(page, tmp_path) -> None:  # noqa: ANN001
    """Revoked, it locked this machine's browser and CLI out until a restart, the page saying 'offline': the People
    page says what the token is for instead of offering Revoke (the API refuses it too, saying how to replace it)."""
    with app_process(tmp_path / 'data', env={'RUNBOARD_DEMO': 'false'}) as app:
        page.goto(app['sign_in_url'].replace('/?', '/settings/tokens?'))
        row = page.locator('[data-token]', has_text='this page')
        expect(row).to_have_count(1)
        expect(row.get_by_test_id('local-token')).to_have_text("this machine's browser and CLI sign in with it")
        expect(row.get_by_test_id('revoke')).to_have_count(0)
