"""The run page's Artifacts and Tests tabs in real Chromium (docs/artifacts.md): a run that left report.html,
screens/shot.png and junit.xml (and a file past the limit) shows them with sizes, the image previewed, the refusal
with why, Download links that stream the bytes (each, and all in one zip), the HTML opened sandboxed; its Tests
tab (opened from the header's line of results) shows the totals and each failure with its message, trace and how it
stands on the branch (a feature branch's against main, with the tests it fixed; a first run's as nothing to compare
with, never "new"); the project page shows the flaky tests."""

from __future__ import annotations

import subprocess
import time
import zipfile

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.artifacts import (
    FENCED_MARKUP,
    HOSTILE_NAMES,
    add_fence_branch,
    add_fixing_branch,
    add_fixtures,
    add_hostile_branch,
    expected,
)
from tests.helpers.axe import axe_violations, by_rule
from tests.helpers.e2e import Stack, screenshot, stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope='module')
def env(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    with stack(tmp_path_factory.mktemp('artifacts'), RUNBOARD_MAX_ARTIFACT_BYTES='200000') as s:
        add_fixtures(s.repo)
        add_fixing_branch(s.repo, 'feature/x')
        s.create_project('arts', depth_levels=['shallow', 'standard', 'deep'])
        yield s


def finished(env: Stack, depth: str, branch: str = 'main', **variables: str) -> dict:
    with env.api() as api:
        body = {'project_id': 'arts', 'branch': branch, 'depth_level': depth, 'target_framework': 'python'}
        body['variables'] = variables
        reply = api.post('/api/runs', json=body)
        assert reply.status_code == 201, reply.text
        deadline = time.monotonic() + 60
        while (run := api.get(f'/api/runs/{reply.json()["id"]}').json())['status'] in ('queued', 'running'):
            assert time.monotonic() < deadline, run
            time.sleep(0.1)
    return run


def test_the_artifacts_and_tests_tabs(page: Page, env: Stack) -> None:
    first = finished(env, 'standard')
    run = finished(env, 'standard')  # the same failures again at the same depth, and big.bin past the limit
    page.goto(f'{env.ui_url}/runs/{run["id"]}')
    expect(page.get_by_test_id('tab-artifacts')).to_have_text('Artifacts (3 kept · 2 refused)')
    page.get_by_test_id('tab-artifacts').click()
    panel = page.get_by_test_id('artifacts-panel')
    expect(panel).to_be_visible()
    expect(page.get_by_test_id('output')).to_be_hidden()  # the log is hidden, not gone
    rows = panel.get_by_test_id('artifact')
    expect(rows).to_have_count(5)
    shot = panel.locator('[data-path="screens/shot.png"]')
    expect(shot.locator('[data-field=size]')).to_have_text(
        f'{len(expected(env.repo)["screens/shot.png"]) / 1024:.1f} KB'
    )
    image = shot.get_by_test_id('artifact-image').locator('img')
    expect(image).to_be_visible()
    page.wait_for_function('img => img.complete && img.naturalWidth === 240', arg=image.element_handle())
    big = panel.locator('[data-path="big.bin"]')
    expect(big.locator('[data-field=refused]')).to_contain_text('would take the run past its artifact limit')
    expect(panel.locator('[data-path="junit.xml"]').get_by_test_id('artifact-text')).to_contain_text('<testsuites>')
    screenshot(page, 'run-artifacts.png')
    # with the pointer on a link (an annotation row): a hovered link must keep its contrast (CI once caught it at 4.44)
    page.get_by_test_id('annotation').first.hover()
    found = axe_violations(page, 'artifacts tab')  # the tabs are part of the run page issue 42 checks
    assert not found, f'{by_rule(found)}:\n' + '\n'.join(v.line() for v in found)

    # Download streams the bytes as they were written
    with page.expect_download() as download:
        shot.get_by_test_id('artifact-download').click()
    assert open(download.value.path(), 'rb').read() == expected(env.repo)['screens/shot.png']
    # Download all: every kept file in one zip, under its path; the refused one is not in it
    with page.expect_download() as download:
        panel.get_by_test_id('artifacts-zip').click()
    assert download.value.suggested_filename == f'{run["id"]}-artifacts.zip'
    with zipfile.ZipFile(download.value.path()) as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == expected(env.repo)
    # the HTML report opens in a new tab, sandboxed: its script runs, but in an opaque origin
    with page.context.expect_page() as opened:
        panel.locator('[data-path="report.html"]').get_by_test_id('artifact-open').click()
    report = opened.value
    expect(report.locator('h1')).to_have_text('Coverage 87%')
    assert report.evaluate('() => window.origin') == 'null'
    assert report.evaluate('() => { try { return document.cookie } catch (e) { return "blocked" } }') in ('', 'blocked')
    report.close()

    # the header says how the tests went; a click there opens the Tests tab
    expect(page.get_by_test_id('run-results')).to_have_text('2 of 5 tests failed')
    page.get_by_test_id('run-results').click()
    tests = page.get_by_test_id('tests-panel')
    expect(tests).to_be_visible()
    expect(page.get_by_test_id('tab-tests')).to_contain_text('Tests (2 failed)')
    expect(tests.get_by_test_id('test-totals')).to_have_text(
        '5 tests · 2 passed · 1 failed · 1 error · 1 skipped · 4.3 s summed over the tests'
    )
    failures = tests.get_by_test_id('test-failure')
    expect(failures).to_have_count(2)
    expect(failures.first.locator('[data-field=mark]')).to_have_text(f'still failing since {first["id"]}')
    expect(failures.first.get_by_test_id('since-link')).to_have_attribute('href', f'/runs/{first["id"]}')
    expect(failures.first.locator('[data-field=message]')).to_have_text('assert 401 == 200')
    failures.first.get_by_text('Stack trace').click()
    expect(failures.first).to_contain_text('E   assert 401 == 200')
    expect(tests.get_by_test_id('skipped')).to_contain_text('needs postgres')
    screenshot(page, 'run-tests.png')
    found = axe_violations(page, 'tests tab, a stack trace open')
    assert not found, f'{by_rule(found)}:\n' + '\n'.join(v.line() for v in found)

    page.get_by_test_id('tab-log').click()
    expect(page.get_by_test_id('output')).to_be_visible()
    expect(page.get_by_test_id('output')).to_contain_text('Artifacts: 3 kept')

    # the first run at that depth had nothing to compare with: its failures are not called new, and it says why
    page.goto(f'{env.ui_url}/runs/{first["id"]}')
    page.get_by_test_id('tab-tests').click()
    tests = page.get_by_test_id('tests-panel')
    expect(tests.get_by_test_id('test-failure')).to_have_count(2)
    expect(tests.locator('[data-field=mark]')).to_have_count(0)
    expect(tests.get_by_test_id('test-comparison')).to_have_text(
        '2 failures with no earlier run at this depth level and framework to compare with'
    )
    screenshot(page, 'run-tests-first-run.png')


def test_the_project_page_shows_flaky_tests(page: Page, env: Stack) -> None:
    finished(env, 'shallow')  # test_a fails
    finished(env, 'shallow', TEST_A_PASSES='yes')  # and passes on the same commit at the same depth level
    last = finished(env, 'shallow')  # and fails again
    page.goto(f'{env.ui_url}/projects/arts')
    section = page.get_by_test_id('project-tests')
    flakiest = section.get_by_test_id('flakiest-tests')
    expect(flakiest).to_contain_text('tests.test_api::test_a')
    last_failed = flakiest.locator('tr', has_text='tests.test_api::test_a').get_by_test_id('last-failed')
    expect(last_failed).to_have_text(last['id'])
    expect(section.get_by_test_id('tests-chart')).to_be_visible()
    section.scroll_into_view_if_needed()
    screenshot(page, 'project-tests.png')
    page.set_viewport_size({'width': 390, 'height': 844})  # a phone: the id's end, on one line, whole
    expect(last_failed).to_have_text('…' + last['id'][-8:])
    last_failed.scroll_into_view_if_needed()
    box = last_failed.bounding_box()
    assert box is not None and box['height'] <= 48 and box['x'] + box['width'] <= 390, box  # one line, a tap target
    last_failed.click()  # to the run it last failed in
    page.wait_for_url(f'**/runs/{last["id"]}')


def test_a_feature_branchs_tests_read_against_main(page: Page, env: Stack) -> None:
    on_main = finished(env, 'shallow')  # test_a and test_b fail on main
    run = finished(env, 'shallow', branch='feature/x')  # test_a passes on the branch, test_b fails as on main
    page.goto(f'{env.ui_url}/runs/{run["id"]}')
    page.get_by_test_id('tab-tests').click()
    tests = page.get_by_test_id('tests-panel')
    expect(tests.get_by_test_id('test-comparison')).to_have_text('1 failing on main too · 1 fixed')
    failure = tests.get_by_test_id('test-failure')
    expect(failure).to_have_count(1)
    expect(failure.locator('[data-field=mark]')).to_have_text(f'failing on main too ({on_main["id"]})')
    fixed = tests.get_by_test_id('fixed')
    expect(fixed).to_have_count(1)
    expect(fixed.locator('[data-field=test]')).to_have_text('tests.test_api::test_a')
    screenshot(page, 'run-tests-against-main.png')
    found = axe_violations(page, 'tests tab of a feature branch')
    assert not found, f'{by_rule(found)}:\n' + '\n'.join(v.line() for v in found)
    fixed.get_by_test_id('since-link').click()  # to the run on main that failed it
    page.wait_for_url(f'**/runs/{on_main["id"]}')


def test_artifact_names_are_shown_never_run(page: Page, env: Stack) -> None:
    """A run names its files: a name that closes a props string's quote and adds `:y="..."` (JavaScript to NiceGUI),
    or ends in a backslash, is a name like any other, on the row, its preview and its image."""
    add_hostile_branch(env.repo, 'hostile')
    run = finished(env, 'shallow', branch='hostile')
    page.goto(f'{env.ui_url}/runs/{run["id"]}')
    page.get_by_test_id('tab-artifacts').click()
    panel = page.get_by_test_id('artifacts-panel')
    rows = panel.get_by_test_id('artifact')
    expect(rows).to_have_count(len(HOSTILE_NAMES))
    expect(panel.get_by_test_id('artifact-text')).to_contain_text('a text preview')  # drawn: every row is there
    assert page.evaluate('() => window.__rbxss') is None
    names = sorted(HOSTILE_NAMES.values())
    assert sorted(rows.evaluate_all('rows => rows.map((row) => row.dataset.path)')) == names
    assert sorted(panel.locator('[data-field=path]').all_inner_texts()) == names
    refused = panel.locator(f'[data-path="{css_string(HOSTILE_NAMES["refused"])}"]')
    expect(refused.locator('[data-field=refused]')).to_contain_text('backslash')
    image = panel.get_by_test_id('artifact-image').locator('img')
    expect(image).to_have_attribute('alt', HOSTILE_NAMES['image'])
    expect(panel.get_by_role('region', name=HOSTILE_NAMES['text'], exact=True)).to_be_visible()
    copy = panel.get_by_test_id('artifact-text').locator('.nicegui-code-copy')
    expect(copy).to_have_attribute('aria-label', f'Copy {HOSTILE_NAMES["text"]}')
    assert page.evaluate('() => window.__rbxss') is None


def test_a_code_fence_in_a_file_is_text_never_markup(page: Page, env: Stack) -> None:
    """A preview or a trace is drawn as a code block (ui.code: Markdown fenced with ```): a file holding a line of ```
    ended that block, and what followed reached the page as HTML (a heading, a form posting to another site)."""
    add_fence_branch(env.repo, 'fenced')
    run = finished(env, 'shallow', branch='fenced')
    page.goto(f'{env.ui_url}/runs/{run["id"]}')
    page.get_by_test_id('tab-artifacts').click()
    preview = page.get_by_test_id('artifacts-panel').locator('[data-path="notes.txt"]').get_by_test_id('artifact-text')
    expect(preview).to_contain_text('<h1 id="rb-injected">Session expired</h1>')
    page.get_by_test_id('tab-tests').click()
    failure = page.get_by_test_id('tests-panel').get_by_test_id('test-failure')
    failure.get_by_text('Stack trace').click()
    expect(failure).to_contain_text('<form id="rb-phish"')
    assert FENCED_MARKUP.splitlines()[1] in preview.inner_text()
    expect(page.locator('#rb-injected, #rb-phish')).to_have_count(0)


def css_string(text: str) -> str:
    """`text` inside a CSS attribute selector's double quotes."""
    return text.replace('\\', '\\\\').replace('"', '\\"')


def test_a_download_from_the_ui_is_sent_as_stored(page: Page, env: Stack) -> None:
    """The UI's download route answers the file as stored, never gzip-compressed on the way: a browser then knows
    its size (its download shows progress and a total) and the server spends nothing on compressing a package."""
    run = finished(env, 'deep')
    stored = (env.repo / 'fixtures' / 'junit-a-passes.xml').read_bytes()
    page.goto(env.ui_url + '/')  # the browser is signed in to the UI
    reply = page.request.get(
        f'{env.ui_url}/run-artifacts/{run["id"]}/junit.xml?download=true', headers={'Accept-Encoding': 'gzip'}
    )
    assert reply.status == 200, reply.text()
    assert 'content-encoding' not in reply.headers
    assert reply.headers['content-length'] == str(len(stored))
    assert reply.body() == stored


PREVIEW_SIZES_SCRIPT = """#!/bin/sh
set -eu
cd "$RUNBOARD_ARTIFACTS_DIR"
echo '{"coverage": 87.2}' > one-line.json
seq 1 300 > long.txt
echo '<testsuite name="a-suite-name-wider-than-a-phone" tests="1"><testcase name="t"/></testsuite>' > junit.xml
"""


def test_a_previews_copy_button_fits_its_box_and_stays_while_the_text_scrolls(page: Page, env: Stack) -> None:
    """A one-line preview's copy button was cut off at the box's edge (the box scrolled a little to show it), and in
    a long preview the whole box scrolled, the copy button with the text, so it went out of sight. The text scrolls
    inside its box; the box, with its copy button, stays put."""
    ident = ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid']
    for args in (
        ('checkout', '-q', '-b', 'sizes', 'main'),
        ('commit', '-q', '-am', 'previews'),
        ('checkout', '-q', 'main'),
    ):
        if args[0] == 'commit':
            (env.repo / 'run.sh').write_text(PREVIEW_SIZES_SCRIPT)
        subprocess.run(['git', *ident, *args], cwd=env.repo, check=True, capture_output=True)
    run = finished(env, 'shallow', branch='sizes')
    page.set_viewport_size({'width': 390, 'height': 844})
    page.goto(f'{env.ui_url}/runs/{run["id"]}')
    page.get_by_test_id('tab-artifacts').click()
    panel = page.get_by_test_id('artifacts-panel')
    for path in ('one-line.json', 'long.txt', 'junit.xml'):
        box = panel.locator(f'[data-path="{path}"]').get_by_test_id('artifact-text')
        expect(box.get_by_role('region', name=path)).to_be_visible()
        assert box.evaluate('(el) => el.scrollHeight <= el.clientHeight + 1'), f'the box of {path} scrolls itself'
        outer, button = box.bounding_box(), box.locator('.nicegui-code-copy').bounding_box()
        assert outer and button
        assert button['y'] >= outer['y'] and button['y'] + button['height'] <= outer['y'] + outer['height'], path
    # and a line too long for the phone's width scrolls sideways beside the copy button, never under it
    for path in ('junit.xml', 'long.txt'):
        box = panel.locator(f'[data-path="{path}"]').get_by_test_id('artifact-text')
        text, button = (
            box.get_by_role('region', name=path).bounding_box(),
            box.locator('.nicegui-code-copy').bounding_box(),
        )
        assert text and button
        assert text['x'] + text['width'] <= button['x'], path
    long_text = panel.locator('[data-path="long.txt"]').get_by_role('region', name='long.txt')
    assert long_text.evaluate('(el) => el.scrollHeight > el.clientHeight'), 'the long text scrolls in its box'
    screenshot(page, 'artifact-previews-390.png')
