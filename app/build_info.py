"""Which Runboard this process is: its version and the git commit it was built from. Shared by the API
(GET /api/about, the OpenAPI document), the UI (its own side of the EnvProvenance chip) and the CLI.

The version is the installed package's; the commit comes from RUNBOARD_BUILD_COMMIT (set by a packager or
an image build), else from the checkout this code runs from, else it is unknown. RUNBOARD_BUILD_VERSION
overrides the version (a packager's own numbering)."""

from __future__ import annotations

import functools
import os
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Build:
    version: str
    commit: str | None

    @property
    def label(self) -> str:
        return f'{self.version} ({self.commit})' if self.commit else self.version


def _package_version() -> str:
    try:
        return metadata.version('runboard')
    except metadata.PackageNotFoundError:
        return '0+unknown'


def _checkout_commit() -> str | None:
    if not (ROOT / '.git').exists():
        return None
    try:
        done = subprocess.run(
            ['git', '-C', str(ROOT), 'rev-parse', '--short=12', 'HEAD'], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


@functools.cache
def this_build() -> Build:
    return Build(
        version=os.environ.get('RUNBOARD_BUILD_VERSION') or _package_version(),
        commit=os.environ.get('RUNBOARD_BUILD_COMMIT') or _checkout_commit(),
    )
