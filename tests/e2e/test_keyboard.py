"""Keyboard only, as a person without a mouse works (issue 42): pick a branch, Run, follow the run, search its log,
Stop (the confirmation takes the focus and gives it back), Retry, Run again; on the dashboard, open a paused
project's ⋯ menu and Reset it, and open and leave the Backlog dialog. Tab, Shift+Tab, Enter, Space, Escape and
the arrow keys only; at every step the focused control wears a visible ring (checked in its computed style, and
photographed into build/screenshots/keyboard-*.png to be looked at)."""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.helpers.e2e import BRANCHES, Stack, gates_dir, screenshot, stack

pytestmark = pytest.mark.e2e

MAX_TABS = 80  # more stops than any page has before its last control
# The focus ring of the focused control: its own outline, or, inside a text field or select, the field's control's
# (Quasar keeps the focus on the <input> and marks the field as focused); on Quasar's buttons, whose outline Quasar
# forbids, a box-shadow ring (assets/runboard.css).
RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const field = el.closest('.q-field--focused');
  const target = field ? field.querySelector('.q-field__control') : el;
  const style = getComputedStyle(target);
  return {outline: style.outlineStyle === 'none' ? 0 : parseFloat(style.outlineWidth), shadow: style.boxShadow,
          tag: el.tagName, text: (el.innerText || el.getAttribute('aria-label') || '').trim().slice(0, 60)};
}"""


class Keyboard:
    """Tab until a control holds the focus, check its ring, photograph each step."""

    def __init__(self, page: Page, name: str) -> None:
        self.page, self.name = page, name
        self.step = 0

    def focused_in(self, target: Locator, timeout: float = 5000) -> bool:
        return bool(target.evaluate('el => el.contains(document.activeElement)', timeout=timeout))

    def expect_focus_in(self, target: Locator, what: str) -> None:
        """The focus comes to be inside `target` (a dialog or menu takes it once it has opened)."""
        # the locator is resolved afresh on every poll: a page drawn in place may replace the element once more
        # after it took the focus, and a handle taken once would go on asking the detached one
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if self.focused_in(target, timeout=1000):
                    return
            except PlaywrightTimeout:
                pass
            self.page.wait_for_timeout(100)
        raise AssertionError(f'{what}; the focus is on {self.active()}')

    def tab_to(self, target: Locator, name: str, *, backwards: bool = False) -> None:
        expect(target).to_be_visible()
        for _ in range(MAX_TABS):
            if self.focused_in(target):
                break
            self.page.keyboard.press('Shift+Tab' if backwards else 'Tab')
        else:
            raise AssertionError(f'{name}: not reached in {MAX_TABS} presses of {"Shift+" if backwards else ""}Tab')
        self.shows_ring(name)

    def shows_ring(self, name: str) -> None:
        ring = self.page.evaluate(RING)
        assert ring is not None, f'{name}: nothing has the focus'
        shadow = ring['shadow'] not in ('none', '') and '5px' in ring['shadow']
        assert ring['outline'] >= 2 or shadow, f'{name}: no visible focus ring: {ring}'
        self.step += 1
        screenshot(self.page, f'keyboard-{self.name}-{self.step:02d}-{name}.png')

    def active(self) -> str:
        return str(self.page.evaluate('() => document.activeElement.outerHTML.slice(0, 200)'))

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)


def _gated_run_sh(gates: Path) -> str:
    return (
        'echo "::stage::build"\n'
        'echo "compiling the widgets"\n'
        f'while [ ! -e {gates}/never ]; do sleep 0.2; done\n'  # runs until it is stopped
    )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Stack]:
    branches = {**BRANCHES, 'feature/slow': {'run.sh': _gated_run_sh(gates_dir(tmp_path))}}
    with stack(tmp_path, branches) as env:
        env.create_project('alpha', max_concurrent_runs=5)
        yield env
        env.stop_active()


def test_run_follow_search_stop_retry_with_the_keyboard_only(page: Page, env: Stack) -> None:
    keys = Keyboard(page, 'run')
    page.goto(f'{env.ui_url}/projects/alpha')
    expect(page.get_by_test_id('runs')).to_have_attribute('data-live', 'true')

    # pick a branch: type to search the picker, arrow down to the match, Enter
    branch = page.get_by_test_id('branch')
    keys.tab_to(branch, 'branch-picker')
    page.keyboard.type('feature/slow')
    expect(page.get_by_role('option', name='feature/slow')).to_be_visible()
    # the list narrowed to the whole text typed (the filter answers per keystroke: 'feature/' showed three)
    expect(page.get_by_role('option')).to_have_count(1)
    keys.press('ArrowDown')
    keys.press('Enter')
    expect(branch).to_have_value('feature/slow')
    keys.shows_ring('branch-picked')

    # Run: the run's page opens in its place
    keys.tab_to(page.get_by_test_id('run'), 'run-button')
    keys.press('Enter')
    page.wait_for_url(re.compile(r'/runs/run_'))
    run_id = page.url.rsplit('/', 1)[1]
    header = page.get_by_test_id('run-header')
    # the page drawn in place puts the focus where a page load starts: its heading, the run's id
    keys.expect_focus_in(header.get_by_role('heading', level=1), 'the run page did not put the focus on its heading')
    keys.shows_ring('run-heading')
    expect(header.locator('[data-status=running]')).to_be_visible(timeout=30_000)

    # follow it: its output arrives live; search the log from the keyboard
    expect(page.get_by_test_id('output')).to_contain_text('compiling the widgets', timeout=30_000)
    search = page.get_by_test_id('log-search')
    keys.tab_to(search, 'log-search')
    page.keyboard.type('widgets')
    keys.press('Enter')
    expect(page.get_by_test_id('search-count')).to_contain_text('1 of 1')
    keys.shows_ring('log-searched')

    # Stop: back up to the header's Stop; its confirmation takes the focus, Enter on "Stop run" stops the run
    stop = page.get_by_test_id('stop')
    keys.tab_to(stop, 'stop-button', backwards=True)
    keys.press('Enter')
    dialog = page.get_by_role('alertdialog')
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f'Stop run {run_id}?')
    keys.expect_focus_in(dialog, 'the confirmation did not take the focus')
    keys.tab_to(dialog.get_by_role('button', name='Stop run'), 'confirm-stop')
    keys.press('Enter')
    expect(dialog).to_be_hidden()
    expect(header.locator('[data-status=stopped]')).to_be_visible(timeout=30_000)

    # Retry replaces Stop in the header once the run has stopped, and the focus Stop had goes to it; Enter opens the
    # Run form, filled from the run
    retry = page.get_by_test_id('retry')
    expect(retry).to_be_visible()
    keys.expect_focus_in(retry, 'the focus did not go from Stop to Retry')
    keys.shows_ring('retry-button')
    keys.press('Enter')
    page.wait_for_url(re.compile(rf'/projects/alpha\?retry_of={run_id}'))
    expect(page.get_by_test_id('branch')).to_have_value('feature/slow')
    keys.tab_to(page.get_by_test_id('run'), 'run-retry')
    keys.press('Space')
    page.wait_for_url(re.compile(r'/runs/run_'))
    expect(page.get_by_test_id('retry-of')).to_have_text(run_id)
    expect(page.get_by_test_id('run-header').locator('[data-status=running]')).to_be_visible(timeout=30_000)
    retried = [r for r in env.runs('alpha') if r.get('retry_of') == run_id]
    assert len(retried) == 1 and retried[0]['kind'] == 'retry'


def test_menu_reset_and_a_dialog_with_the_keyboard_only(page: Page, env: Stack) -> None:
    assert env.base is not None
    with sqlite3.connect(env.base / 'api' / 'runboard.db') as db:  # as three failed AFK runs in a row leave it
        db.execute("UPDATE project SET consecutive_failures = 3, auto_enabled = 1 WHERE id = 'alpha'")
    keys = Keyboard(page, 'menu')
    page.goto(f'{env.ui_url}/')
    card = page.locator('[data-project=alpha]')
    expect(card.locator('[data-paused-banner]')).to_be_visible()

    # the ⋯ menu: Enter opens it and the focus goes in; arrow keys and Tab move through it; Escape leaves
    actions = card.get_by_role('button', name='Project actions')
    keys.tab_to(actions, 'menu-button')
    keys.press('Enter')
    menu = page.get_by_role('menu')
    expect(menu).to_be_visible()
    keys.expect_focus_in(menu, 'the menu did not take the focus')
    keys.press('Escape')
    expect(menu).to_be_hidden()
    keys.expect_focus_in(actions, 'Escape did not give the focus back to the ⋯ button')
    keys.press('Space')
    expect(menu).to_be_visible()
    reset = menu.get_by_role('menuitem', name='Reset')
    keys.tab_to(reset, 'menu-reset')
    keys.press('Enter')
    expect(menu).to_be_hidden()
    # Reset asks first: the focus is on Cancel; Tab to Reset and Enter resets
    confirmation = page.get_by_role('alertdialog')
    expect(confirmation).to_contain_text('Resume the AFK loop for')
    keys.expect_focus_in(confirmation.get_by_role('button', name='Cancel'), 'the confirmation did not focus Cancel')
    keys.tab_to(confirmation.get_by_role('button', name='Reset'), 'confirm-reset')
    keys.press('Enter')
    expect(confirmation).to_be_hidden()
    expect(card.locator('[data-paused-banner]')).to_be_hidden()
    with env.api() as api:
        assert api.get('/api/projects/alpha').json()['consecutive_failures'] == 0
    keys.expect_focus_in(actions, 'after Reset the focus is not back on the ⋯ button')
    keys.shows_ring('after-reset')

    # a dialog: Backlog opens it with the focus inside; Escape closes it and the focus is back on Backlog
    backlog = card.get_by_role('button', name='Backlog')
    keys.tab_to(backlog, 'backlog-button')
    keys.press('Enter')
    dialog = page.get_by_role('dialog')
    expect(dialog).to_be_visible()
    keys.expect_focus_in(dialog, 'the Backlog dialog did not take the focus')
    keys.press('Escape')
    expect(dialog).to_be_hidden()
    keys.expect_focus_in(backlog, 'closing the dialog did not give the focus back to Backlog')
    keys.shows_ring('backlog-closed')
