"""Where an AFK run's branch outlives its checkout (docs/afk.md, "Reviewing an AFK run"): a project without a forge
has nowhere to push `afk/<N>` from the sandbox (the data dir, with the mirror, is out of its reach), and a succeeded
run's checkout is removed. So before the engine tidies the checkout away, the server fetches `afk/<N>` from it into a
bare repository of the data dir, one per repository (`afk-branches/<key>.git`), where the run page's diff reads it.
The mirror is not the place: its fetch prunes every ref its origin does not have."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from app.services.repositories import gitops
from app.services.repositories.issue_sources import afk_branch, is_forge

log = logging.getLogger(__name__)


def store_path(data_dir: Path, repository: str) -> Path:
    digest = hashlib.sha256(gitops.repository_key(repository).encode()).hexdigest()[:16]
    return data_dir / 'afk-branches' / f'{digest}.git'


def keep(checkout: Path, store: Path, branch: str) -> bool:
    """Fetch `branch` from the run's checkout into the store (forced: a later run's `afk/<N>` replaces an earlier
    one's). False when the checkout has no such branch (the agent made none), or git failed (logged)."""
    try:
        gitops.git('rev-parse', '--verify', '--quiet', f'refs/heads/{branch}^{{commit}}', cwd=checkout, timeout=30)
    except (gitops.GitError, OSError):
        return False
    try:
        if not (store / 'HEAD').exists():
            store.parent.mkdir(parents=True, exist_ok=True)
            gitops.git('init', '--bare', '--quiet', str(store))
        gitops.git(
            'fetch', '--quiet', '--no-tags', str(checkout), f'+refs/heads/{branch}:refs/heads/{branch}', cwd=store
        )
    except (gitops.GitError, OSError):
        log.warning('keeping %s of %s failed', branch, checkout, exc_info=True)
        return False
    return True


def keep_run_branch(data_dir: Path, run: dict[str, Any], checkout: Path) -> bool:
    """At the end of an AFK run of a project without a forge (before its end is written, so its page finds the
    branch as soon as it shows the run ended): its `afk/<N>`, if the agent made one, into the store."""
    source = run.get('issue_source')
    if isinstance(source, str):  # SQLite answers the JSON column as text
        source = json.loads(source or '{}')
    if run.get('kind') != 'auto' or run.get('issue_number') is None or is_forge(source) or not checkout.exists():
        return False
    return keep(checkout, store_path(data_dir, str(run['repository'])), afk_branch(int(run['issue_number'])))
