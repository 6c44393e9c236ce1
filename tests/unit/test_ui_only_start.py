"""A UI-only process (`runboard serve --server URL`) talks to its API over HTTP: composing it loads none of the API's
routes, the services or the database layer, which were about 1.5 s of CPU of its start (docs/performance.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

COMPOSE = """
import sys
from app.config import Settings
from app.server import compose
compose(Settings(server='http://127.0.0.1:9', data_dir=sys.argv[1]))
print(' '.join(sorted(sys.modules)))
"""


def loaded_after_compose(data_dir: Path) -> set[str]:
    out = subprocess.run(
        [sys.executable, '-c', COMPOSE, str(data_dir)], capture_output=True, text=True, check=True
    ).stdout
    return set(out.strip().splitlines()[-1].split())


def test_a_ui_only_process_loads_no_api_services_or_database(tmp_path: Path) -> None:
    loaded = loaded_after_compose(tmp_path)
    assert 'app.pages.run_page' in loaded  # it did compose its pages
    assert not {'app.hosting', 'app.api.application', 'app.container', 'app.infra.db'} & loaded
    assert not [name for name in loaded if name.startswith('app.services.')]
    assert not [name for name in loaded if name.split('.')[0] in ('sqlalchemy', 'sqlmodel', 'alembic', 'celery')]
