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


def test_a_command_loads_its_own_group_alone() -> None:
    """`runboard runs list` imports and builds the runs group, not the other groups (their modules and typer's
    building of each of their commands were most of the CLI's start)."""
    script = (
        'import sys\n'
        "sys.argv = ['runboard', 'runs', 'list', '--help']\n"
        'from app.cli.main import main\n'
        'try:\n'
        '    main()\n'
        'except SystemExit as done:\n'
        '    assert done.code == 0, done.code\n'
        "print(' '.join(sorted(sys.modules)))\n"
    )
    loaded = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, check=True).stdout
    modules = loaded.strip().splitlines()[-1].split()  # after the help it printed
    assert 'app.cli.runs' in modules
    assert not {'app.cli.afk', 'app.cli.projects', 'app.cli.schedules', 'app.cli.notifications'} & set(modules)
