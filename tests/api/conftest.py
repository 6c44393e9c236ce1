"""Fixtures for API tests: a real server on the test's backend, a repository with a few branches,
and a project on it. Runs stay queued (global_run_cap=0) so locks and limits are tested without timing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.api import BRANCHES, QUEUED, Api, serving
from tests.helpers.runs import shell_script


@pytest.fixture
def repo(repo_factory) -> Path:  # noqa: ANN001
    return repo_factory({name: shell_script(f'echo {name}') for name in BRANCHES})


@pytest.fixture
def api(settings_factory, repo) -> Iterator[Api]:  # noqa: ANN001
    """A server whose runs stay queued, and project 'proj' (max_concurrent_runs 2) on `repo`."""
    with serving(settings_factory(**QUEUED), repo) as running:
        yield running
