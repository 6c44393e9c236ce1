"""Git repositories for tests: one with files per branch, and many more branches at once."""

from __future__ import annotations

import subprocess
from pathlib import Path


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


def add_branches(repo: Path, count: int, prefix: str = 'many/') -> list[str]:
    """`count` more branches at main's commit, in one git call."""
    commit = subprocess.run(
        ['git', 'rev-parse', 'main'], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()
    names = [f'{prefix}{i:04d}' for i in range(count)]
    subprocess.run(
        ['git', 'update-ref', '--stdin'],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
        input=''.join(f'create refs/heads/{name} {commit}\n' for name in names),
    )
    return names
