"""A project's run caches in words (docs/pipelines.md, "Caches"), for its Settings page and `runboard projects
caches`: each cache with whose runs use it and its size on this server, and when they were last cleared."""

from __future__ import annotations

from typing import Any

from app.state.artifacts_view import size_text

SCOPE_WORDS = {'base': "the base branch's runs", 'branches': "every other branch's runs (pull requests, AFK agents)"}


def size_heading(caches: dict[str, Any]) -> str:
    return 'Size on each worker' if caches.get('executor') == 'celery' else 'Size here'


def on_workers_text(workers: list[dict[str, Any]], scope: str) -> str:
    """'gpu@build-3 12.0 MB · cpu@build-4 empty': each live worker's copy of one cache."""
    if not workers:
        return 'no worker is running'
    return ' · '.join(
        f'{w["worker"]} {size_text(w["sizes"][scope]) if scope in w["sizes"] else "empty"}' for w in workers
    )


def cache_rows(caches: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(cache, whose runs use it, its size here or on each worker) for each of the two; a cache no run there has
    used says so."""
    sizes = caches.get('sizes') or {}
    if caches.get('executor') == 'celery':
        workers = caches.get('workers') or []
        return [(scope, words, on_workers_text(workers, scope)) for scope, words in SCOPE_WORDS.items()]
    return [
        (scope, words, size_text(sizes[scope]) if scope in sizes else 'empty') for scope, words in SCOPE_WORDS.items()
    ]


def cleared_text(caches: dict[str, Any]) -> str:
    """When they were last cleared; where they are when Celery workers run the runs."""
    when = caches.get('cleared_at')
    said = f'Last cleared {when[:16].replace("T", " ")} UTC.' if when else 'Never cleared.'
    if caches.get('executor') == 'celery':
        said += (
            ' Each Celery worker keeps its own caches, on its machine; their sizes are as each worker measured them'
            ' when a run there last ended.'
        )
    return said
