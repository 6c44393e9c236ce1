"""What the pages show reads as it should, in both themes and on a 390 px phone: a run id keeps its underscores
under its link's underline; in the dark theme the browser's own controls (the date pickers' icons) are drawn for
a dark page; a run summary's heading that wraps stays one heading, its lines as close as the text's."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.helpers.e2e import Stack, stack
from tests.helpers.runs import wait_for_status

pytestmark = pytest.mark.e2e

SUMMARY = (
    'printf "### Build on a branch with a rather long name: 1 of 3 tests failed\\n\\nmore\\n" > "$RUNBOARD_SUMMARY"\n'
)


@pytest.fixture(scope='module')
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    with stack(tmp_path_factory.mktemp('reading'), {'main': {'run.sh': SUMMARY}}) as s:
        s.create_project('alpha')
        run_id = s.trigger('alpha', 'main').json()['id']
        with s.api() as api:
            assert wait_for_status(api, run_id)['status'] == 'succeeded'
        yield s, run_id


def px(value: str) -> float:
    return float(value.removesuffix('px'))


def test_a_run_id_link_keeps_its_underscores_above_the_underline(browser: Browser, env) -> None:  # noqa: ANN001
    stack_, run_id = env
    page = browser.new_page(viewport={'width': 1200, 'height': 900})
    page.goto(f'{stack_.ui_url}/')
    link = page.get_by_role('link', name=run_id)
    expect(link).to_be_visible()
    # the underline sits where a monospace underscore is drawn ("run_01…" read as "run 01…") unless moved below it
    offset, size = link.evaluate('e => [getComputedStyle(e).textUnderlineOffset, getComputedStyle(e).fontSize]')
    assert offset.endswith('px') and px(offset) >= 0.15 * px(size), (offset, size)
    page.close()


@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_the_date_pickers_are_drawn_for_the_pages_theme(browser: Browser, env, scheme: str) -> None:  # noqa: ANN001
    stack_, _run_id = env
    context = browser.new_context(viewport={'width': 1200, 'height': 900}, color_scheme=scheme)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(f'{stack_.ui_url}/')
    expect(page.locator('body')).to_have_class(re.compile(rf'\bbody--{scheme}\b'))
    date = page.locator('input[type=date]').first
    expect(date).to_be_visible()
    # a native control is drawn for the page's colour scheme: on a dark page a light one's calendar icon is black
    # on black
    drawn = date.evaluate('e => getComputedStyle(e).colorScheme')
    assert (drawn == 'dark') == (scheme == 'dark'), drawn
    context.close()


def test_a_summary_heading_that_wraps_on_a_phone_keeps_its_lines_together(browser: Browser, env) -> None:  # noqa: ANN001
    stack_, run_id = env
    page = browser.new_page(viewport={'width': 390, 'height': 844})
    page.goto(f'{stack_.ui_url}/runs/{run_id}')
    heading = page.locator('.rb-markdown h3')
    expect(heading).to_contain_text('1 of 3 tests failed')
    size, line = heading.evaluate('e => [getComputedStyle(e).fontSize, getComputedStyle(e).lineHeight]')
    # Quasar gives h3 the line height of its own 3 rem headings: the summary's wrapped heading read as two paragraphs
    assert line.endswith('px') and px(line) <= 1.5 * px(size), (size, line)
    page.close()
