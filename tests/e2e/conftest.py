"""E2E fixtures: one Chromium per session and a fresh page per test. The stack the pages talk to
(API server <- fault proxy <- UI process) is built by `tests.helpers.e2e.stack`; servers start once
per module (settings differ per module). Every browser context is signed in to every login-free server
through the link it printed at start (`BrowserSignIn`), as the person who started it."""

from __future__ import annotations

import pytest

from tests.helpers.e2e import CHROMIUM_ARGS, BrowserSignIn


@pytest.fixture(scope='session', autouse=True)
def _expect_waits_as_long_as_actions() -> None:
    # Playwright's `expect` waits 5 s by default, a third of what the pages' actions may take (the context's 15 s):
    # on a busy machine a page that is right after 6 s failed an assertion that its own click would have waited out.
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)


@pytest.fixture(scope='session')
def browser():  # noqa: ANN201
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path='/usr/bin/chromium', args=CHROMIUM_ARGS)
        sign_ins = BrowserSignIn(browser)  # every context is signed in to the login-free servers, as their owner
        yield browser
        sign_ins.close()
        browser.close()


@pytest.fixture
def page(browser):  # noqa: ANN001, ANN201
    context = browser.new_context(
        viewport={'width': 1200, 'height': 900}, permissions=['clipboard-read', 'clipboard-write']
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
