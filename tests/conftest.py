from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers.backends import BACKENDS, backend_settings


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def settings_factory(backend: str, tmp_path: Path):  # noqa: ANN201
    """settings_factory(**overrides) -> Settings on the test's backend; the same database on each call."""
    stack = []
    cache: dict = {}

    def make(**overrides):  # noqa: ANN003, ANN202
        if 'db' not in cache:
            ctx = backend_settings(backend, tmp_path / 'data', **overrides)
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


def make_repo(path: Path, branches: dict[str, dict[str, str]] | None = None, *, base: str = 'main') -> Path:
    """A git repository with files per branch: {'main': {'run.sh': '...'}, 'feature/x': {...}}."""
    branches = branches or {base: {'README.md': 'hello\n'}}
    path.mkdir(parents=True, exist_ok=True)
    ident = ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid']

    def git(*args: str) -> None:
        subprocess.run(['git', *ident, *args], cwd=path, check=True, capture_output=True)

    git('init', '-q', '-b', base)
    for i, (branch, files) in enumerate(branches.items()):
        if i:
            git('checkout', '-q', '-b', branch, base)
        for name, content in files.items():
            target = path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            if name.endswith('.sh') or name.endswith('.py'):
                target.chmod(0o755)
        git('add', '-A')
        git('commit', '-q', '--allow-empty', '-m', f'{branch} commit')
    git('checkout', '-q', base)
    return path


@pytest.fixture
def repo_factory(tmp_path: Path):  # noqa: ANN201
    counter = {'n': 0}

    def make(branches: dict[str, dict[str, str]] | None = None, **kwargs) -> Path:  # noqa: ANN003
        counter['n'] += 1
        return make_repo(tmp_path / f'repo{counter["n"]}', branches, **kwargs)

    return make
