"""What may name a run's artifact: the one rule the API (app.services.artifacts.reads), the API client and the UI's
download route read, so a path with `..` in it is refused wherever it arrives, never resolved by a URL library into
another API route."""

from __future__ import annotations

MAX_PATH_CHARS = 1024


def path_problem(path: str) -> str | None:
    """Pure: why `path` cannot name an artifact (None: it can). Artifacts are looked up by their row, so this
    is a refusal of the attempt, not the only thing between a request and the disk."""
    if not path:
        return 'the path is empty'
    if len(path) > MAX_PATH_CHARS:
        return f'the path is longer than {MAX_PATH_CHARS} characters'
    if path.startswith('/') or '\\' in path or '\x00' in path:
        return 'the path must be relative, with / between its parts'
    if any(part in ('', '.', '..') for part in path.split('/')):
        return "the path may not hold '.', '..' or empty parts"
    return None
