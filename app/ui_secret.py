"""The secret that signs this server's browser session cookies (NiceGUI storage_secret)."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path


def load_or_create(path: Path) -> str:
    """Read the secret, or create it once with 0600 permissions (a racing second process reads the winner's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the creator may not have written it yet
            value = path.read_text().strip()
            if value:
                return value
            time.sleep(0.02)
        raise RuntimeError(f'{path} is empty; delete it to create a new one') from None
    value = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, 'w') as handle:
        handle.write(value + '\n')
    return value
