"""Stages in real Chromium, like a GitHub Actions step list: each stage chip says its result and how long
it took, the running one counts on, and each row of the runs list carries a strip that follows the
stages live (a stage starting mid-run, then the run's failure)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.e2e import Stack, gates_dir, screenshot, stack

pytestmark = pytest.mark.e2e


def pipeline(gate: Path) -> str:
    """install, held until `gate`.install exists; then test, held until `gate`.test exists; then exit 1."""
    return (
        '#!/bin/sh\n'
        'echo "::stage:: install"\necho "resolving dependencies"\n'
        f'while [ ! -f {gate}.install ]; do sleep 0.1; done\n'
        'echo "::stage:: test"\necho "test_login ... FAILED"\n'
        f'while [ ! -f {gate}.test ]; do sleep 0.1; done\n'
        'exit 1\n'
    )


@pytest.fixture(scope='module')
def env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Stack, Path]:
    base = tmp_path_factory.mktemp('stages')
    gate = gates_dir(base) / 'gate'
    with stack(base, {'main': {'run.sh': pipeline(gate)}}) as s:
        s.create_project('staged')
        yield s, gate


def stage_chip(page: Page, name: str):  # noqa: ANN201
    return page.get_by_test_id('stages').locator(f'[data-stage="{name}"]')


def words(chip):  # noqa: ANN001, ANN201
    """What a stage chip reads (`install · 2.1 s`), without its icon."""
    return chip.locator('[data-field=stage]')


def test_stages_show_result_and_duration_live_on_the_run_page_and_the_list(page: Page, browser, env) -> None:  # noqa: ANN001
    stack_, gate = env
    run_id = stack_.trigger('staged', 'main').json()['id']

    # the runs list: the row's strip shows the stages so far, and follows a stage starting mid-run
    page.goto(f'{stack_.ui_url}/projects/staged')
    strip = page.locator(f'[data-run="{run_id}"] [data-testid=stage-strip]')
    expect(strip.locator('[data-stage="install"]')).to_have_attribute('data-result', 'running', timeout=30_000)
    expect(strip.locator('[data-stage^="checkout main @ "]')).to_have_attribute('data-result', 'succeeded')
    gate.with_suffix('.install').touch()
    expect(strip.locator('[data-stage="test"]')).to_have_attribute('data-result', 'running')
    expect(strip.locator('[data-stage="install"]')).to_have_attribute('data-result', 'succeeded')
    expect(strip.locator('[data-stage="install"]')).to_have_attribute(
        'aria-label', re.compile(r'^install: succeeded in \d+(\.\d)? (s|min)')
    )
    expect(strip).to_have_attribute('aria-label', re.compile(r'^Stages: checkout .*; install: .*; test: running$'))

    # the run page: install succeeded with its duration; test runs, its duration counting every second
    page.goto(f'{stack_.ui_url}/runs/{run_id}')
    install = stage_chip(page, 'install')
    expect(install).to_have_attribute('data-result', 'succeeded')
    expect(words(install)).to_have_text(re.compile(r'^install · \d+(\.\d)? (s|min)'))
    expect(install).to_have_attribute('aria-label', re.compile(r'^install: succeeded in '))
    expect(page.get_by_role('listitem', name=re.compile(r'^install: succeeded in '))).to_be_visible()
    test = stage_chip(page, 'test')
    expect(test).to_have_attribute('data-result', 'running')
    expect(words(test)).to_have_text(re.compile(r'^test · \d'))
    ticking = words(test).inner_text()
    expect(words(test)).not_to_have_text(ticking)  # the clock moves on without any new output
    expect(test).to_have_attribute('aria-label', re.compile(r'^test: running for '))

    # the run fails: its last stage takes the run's outcome, with the time it ran until the end
    gate.with_suffix('.test').touch()
    expect(test).to_have_attribute('data-result', 'failed', timeout=30_000)
    expect(test).to_have_attribute('aria-label', re.compile(r'^test: failed after \d'))
    expect(page.get_by_test_id('run-header').locator('[data-status]')).to_have_attribute('data-status', 'failed')
    expect(install).to_have_attribute('data-result', 'succeeded')
    screenshot(page, 'run-stages.png')

    # the list row ends the same way
    page.goto(f'{stack_.ui_url}/projects/staged')
    expect(strip.locator('[data-stage="test"]')).to_have_attribute('data-result', 'failed')
    expect(strip.locator('[data-stage="install"]')).to_have_attribute('data-result', 'succeeded')
    page.locator(f'[data-run="{run_id}"]').scroll_into_view_if_needed()  # the picture is of the row, below the form
    screenshot(page, 'runs-list-stages.png')

    # and in dark mode, following the system
    dark = browser.new_context(viewport={'width': 1200, 'height': 900}, color_scheme='dark')
    try:
        page = dark.new_page()
        page.goto(f'{stack_.ui_url}/runs/{run_id}')
        assert page.evaluate("document.body.classList.contains('body--dark')")
        expect(stage_chip(page, 'test')).to_have_attribute('data-result', 'failed')
        expect(page.get_by_test_id('output').get_by_text('test_login ... FAILED')).to_be_visible()  # the log too
        screenshot(page, 'run-stages-dark.png')
    finally:
        dark.close()
