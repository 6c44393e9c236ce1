"""Workflow commands as a person sees them in real Chromium (docs/pipelines.md): a pipeline without stage markers
that prints `::group::Install` … `::endgroup::`, `::error file=app.py,line=3::boom` and `::add-mask::hunter2`
then `echo hunter2` shows its output under a "run" stage, a group folded until opened, one annotation at the top
of the page linking to its log line, and `***` where the secret was."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.e2e import Stack, stack

pytestmark = pytest.mark.e2e

PIPELINE = """#!/bin/sh
echo 'preparing'
echo '::group::Install'
echo 'installing deps'
echo 'deps installed'
echo '::endgroup::'
echo '::error file=app.py,line=3::boom'
echo '::add-mask::hunter2'
echo hunter2
echo 'done'
exit 1
"""


@pytest.fixture(scope='module')
def env(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    with stack(tmp_path_factory.mktemp('commands'), {'main': {'run.sh': PIPELINE}}) as s:
        s.create_project('cmds')
        yield s


def finished(stack_: Stack, run_id: str) -> dict:
    deadline = time.monotonic() + 60
    with stack_.api() as api:
        while (run := api.get(f'/api/runs/{run_id}').json())['status'] in ('queued', 'running'):
            assert time.monotonic() < deadline, run
            time.sleep(0.1)
    return run


def test_groups_annotations_masks_and_the_run_stage(page: Page, env: Stack, tmp_path: Path) -> None:
    run = finished(env, env.trigger('cmds', 'main').json()['id'])
    seq = {e['text']: e['seq'] for e in run['events']}
    page.goto(f'{env.ui_url}/runs/{run["id"]}')
    log = page.get_by_test_id('output')

    # no stage markers: the checkout succeeded, the output ran (and failed) in the "run" stage
    stages = page.get_by_test_id('stages')
    expect(stages.locator('[data-stage^="checkout main @ "]')).to_have_attribute('data-result', 'succeeded')
    expect(stages.locator('[data-stage="run"]')).to_have_attribute('data-result', 'failed')
    run_header = log.locator(f'#L{seq["run"]}')
    expect(run_header).to_have_class(re.compile(r'rb-k-stage'))
    expect(run_header.locator('.rb-text')).to_have_text('run')
    expect(log.locator(f'#L{seq["preparing"]}')).to_have_attribute('data-group', str(seq['run']))

    # the group: its header shows closed, its lines are hidden until it is opened; no literal command text
    group = log.locator('.rb-k-group')
    expect(group).to_have_count(1)
    expect(group.locator('.rb-text')).to_have_text('Install')
    expect(group.locator('.rb-fold')).to_have_attribute('aria-expanded', 'false')
    inside = log.locator(f'#L{seq["installing deps"]}')
    expect(inside).to_be_hidden()
    expect(log).not_to_contain_text('::group::')
    expect(log).not_to_contain_text('::endgroup::')
    expect(log.locator(f'#L{seq["preparing"]}')).to_be_visible()
    expect(log.locator(f'#L{seq["done"]}')).to_be_visible()  # after ::endgroup::, lines show again
    shot = tmp_path / 'workflow-commands-closed.png'
    page.screenshot(path=str(shot), full_page=True)

    group.click()
    expect(inside).to_be_visible()
    expect(log.locator(f'#L{seq["deps installed"]}')).to_be_visible()
    expect(group.locator('.rb-fold')).to_have_attribute('aria-expanded', 'true')
    page.screenshot(path=str(tmp_path / 'workflow-commands-open.png'), full_page=True)
    group.click()
    expect(inside).to_be_hidden()

    # the masked value: *** in the log, never the value
    expect(log.locator('.rb-text', has_text=re.compile(r'^\*\*\*$'))).to_have_count(1)
    expect(page.locator('body')).not_to_contain_text('hunter2')

    # one annotation at the top, with its level, message and place, linking to its styled log line
    error_line = seq['::error file=app.py,line=3::boom']
    annotations = page.get_by_test_id('annotation')
    expect(annotations).to_have_count(1)
    expect(annotations).to_have_attribute('data-level', 'error')
    expect(annotations).to_contain_text('Error')
    expect(annotations.locator('[data-field=message]')).to_have_text('boom')
    expect(annotations.locator('[data-field=place]')).to_have_text('app.py:3')
    expect(annotations).to_have_attribute('href', f'#L{error_line}')
    styled = log.locator(f'#L{error_line}')
    expect(styled).to_have_class(re.compile(r'rb-k-annotation'))
    expect(styled.locator('.rb-level-error')).to_have_text('Error')
    annotations.click()
    expect(page).to_have_url(re.compile(rf'#L{error_line}$'))
    expect(styled).to_have_class(re.compile(r'rb-selected'))
    page.screenshot(path=str(tmp_path / 'workflow-commands-annotation.png'), full_page=True)
    print(f'screenshots in {tmp_path}')  # noqa: T201 (looked at by hand)
