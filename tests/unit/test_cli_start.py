"""The CLI is started by scripts, often in loops: it loads the API's client and its own commands, never the server's
database layer (SQLAlchemy, SQLModel, the tables), which took half of its start (docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys


def test_the_cli_loads_no_database_layer() -> None:
    loaded = subprocess.run(
        [sys.executable, '-c', 'import sys, app.cli.main; print(" ".join(sorted(sys.modules)))'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert not [name for name in loaded if name.split('.')[0] in ('sqlalchemy', 'sqlmodel', 'alembic')]
    assert 'app.models.tables' not in loaded and 'app.models.vocabulary' in loaded
