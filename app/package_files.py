"""The files the package carries besides its code: the browser's files (`assets/` at the top of the source tree,
the package `app.assets` in the wheel), the Alembic migrations (with `script.py.mako`) and the demo pipeline.

Found through importlib.resources, so the same calls answer in an editable install (the finder maps `app.assets`
to `assets/`) and in an installed wheel (`site-packages/app/assets`); nothing looks for a folder beside the code.
NiceGUI's static files and components and Alembic want folders on disk, which both installs are."""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path


def assets_dir() -> Path:
    """The browser's files (js, css), served at /assets."""
    return _on_disk(resources.files('app.assets'))


def asset(name: str) -> Path:
    """One of the browser's files, e.g. `logview.js`."""
    return _on_disk(resources.files('app.assets') / name)


def migrations_dir() -> Path:
    """Alembic's script location: env.py, script.py.mako and versions/."""
    return _on_disk(resources.files('app') / 'migrations')


def demo_pipeline() -> Path:
    """The demo project's pipeline script, copied into its generated repository."""
    return _on_disk(resources.files('app') / 'demo' / 'pipeline.py')


def _on_disk(found: Traversable) -> Path:
    if not isinstance(found, Path) or not found.exists():
        raise FileNotFoundError(f'runboard: {found} is not in this installation (reinstall the package)')
    return found
