from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.backends import BACKENDS, backend_settings
from tests.helpers.repos import make_repo


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def settings_factory(backend: str, tmp_path: Path, request: pytest.FixtureRequest):  # noqa: ANN201
    """settings_factory(**overrides) -> Settings on the test's backend; the same database on each call. The database
    is as the migrations leave an empty one, or empty for a test marked `fresh_database`."""
    stack = []
    cache: dict = {}
    migrated = request.node.get_closest_marker('fresh_database') is None

    def make(**overrides):  # noqa: ANN003, ANN202
        if 'db' not in cache:
            ctx = backend_settings(backend, tmp_path / 'data', migrated=migrated, **overrides)
            cache['db'] = ctx.__enter__()
            stack.append(ctx)
            return cache['db']
        first = cache['db']
        cache['instances'] = n = cache.get('instances', 1) + 1
        # a second server instance: its own data dir, the same database (SQLite file or PostgreSQL schema)
        return first.model_copy(
            update={'data_dir': tmp_path / f'data{n}', 'database_url': first.effective_database_url, **overrides}
        )

    yield make
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)


@pytest.fixture
def repo_factory(tmp_path: Path):  # noqa: ANN201
    counter = {'n': 0}

    def make(branches: dict[str, dict[str, str]] | None = None, **kwargs) -> Path:  # noqa: ANN003
        counter['n'] += 1
        return make_repo(tmp_path / f'repo{counter["n"]}', branches, **kwargs)

    return make
