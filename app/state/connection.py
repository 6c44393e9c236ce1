"""Where the UI's API lives: this process's own API, or a remote team server (--server)."""
from __future__ import annotations

from app.client import RunboardClient

_config: dict[str, str | None] = {'base_url': None, 'token': None}
_shared: RunboardClient | None = None


def configure(*, base_url: str, token: str | None) -> None:
    _config.update(base_url=base_url, token=token)


def client() -> RunboardClient:
    """One pooled client for the whole process (stores are per tab; connections are shared)."""
    global _shared
    if _shared is None:
        if not _config['base_url']:
            raise RuntimeError('UI connection is not configured yet')
        _shared = RunboardClient(_config['base_url'], _config['token'], timeout=10.0)
    return _shared


def new_client(**kwargs) -> RunboardClient:  # noqa: ANN003
    """A client of its own (long-lived event streams should not share the request pool)."""
    return RunboardClient(_config['base_url'] or '', _config['token'], **kwargs)


async def close() -> None:
    global _shared
    if _shared is not None:
        await _shared.aclose()
        _shared = None
