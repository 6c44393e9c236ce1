"""The UI's artifact route (/run-artifacts/{run}/{path}) reads only artifacts: a path with `..` in it, however it is
encoded, is refused there, never resolved by the API client into another API route read with the browser's
credentials (before, `..%2F..%2F..%2Fme` answered GET /api/me on the UI's origin)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.helpers.e2e import Stack, stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope='module')
def env(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    with stack(tmp_path_factory.mktemp('artifact-paths')) as s:
        s.create_project('arts')
        yield s


@pytest.mark.parametrize(
    'path', ['..%2F..%2F..%2Fme', '%2E%2E%2F%2E%2E%2F%2E%2E%2Fme', 'a/..%2F..%2F..%2F..%2Fprojects', '.%2F..%2Fruns']
)
def test_a_path_out_of_the_runs_artifacts_reaches_no_other_route(page: Page, env: Stack, path: str) -> None:
    run = env.trigger('arts', 'main').json()
    page.goto(env.ui_url + '/')  # the browser is signed in to the UI
    reply = page.request.get(f'{env.ui_url}/run-artifacts/{run["id"]}/{path}')
    assert reply.status == 404, reply.text()
    assert "may not hold '.'" in reply.text()
    assert '"role"' not in reply.text() and '"id"' not in reply.text()  # no API answer passed on
