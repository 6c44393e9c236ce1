"""A server with no project yet (a team server's first start, or local mode without the demo): the dashboard says so
instead of showing nothing above the runs list."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.helpers.servers import app_process

pytestmark = pytest.mark.e2e


def test_a_dashboard_with_no_project_says_so(tmp_path: Path, page) -> None:  # noqa: ANN001
    with app_process(tmp_path / 'data', env={'RUNBOARD_DEMO': 'false'}) as app:
        page.goto(app['url'] + '/')
        expect(page.get_by_text('No projects yet.')).to_be_visible()
        expect(page.get_by_test_id('runs')).to_have_attribute('data-live', 'true')
