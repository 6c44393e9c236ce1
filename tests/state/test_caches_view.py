"""A project's run caches in words, for the Settings panel and `runboard projects caches`."""

from __future__ import annotations

import pytest

from app.state.caches_view import cache_rows, cleared_text


@pytest.mark.parametrize(
    ('caches', 'sizes'),
    [
        ({'executor': 'local', 'sizes': {}}, ['empty', 'empty']),  # no run here has used them yet
        ({'executor': 'local', 'sizes': {'base': 2048, 'branches': 0}}, ['2.0 KB', '0 bytes']),
        ({'executor': 'celery', 'sizes': {}, 'workers': []}, ['no worker is running'] * 2),
        (
            {
                'executor': 'celery',
                'sizes': {},
                'workers': [
                    {'worker': 'a@h1', 'state': 'live', 'sizes': {'base': 2048}},
                    {'worker': 'b@h2', 'state': 'draining', 'sizes': {}},  # no run there used them (since a clear)
                ],
            },
            ['a@h1 2.0 KB · b@h2 empty', 'a@h1 empty · b@h2 empty'],
        ),
    ],
)
def test_each_cache_with_whose_runs_use_it_and_its_size_here(caches: dict, sizes: list[str]) -> None:
    rows = cache_rows(caches)
    assert [scope for scope, _, _ in rows] == ['base', 'branches']
    assert "the base branch's runs" in rows[0][1] and 'pull requests' in rows[1][1]
    assert [size for _, _, size in rows] == sizes


@pytest.mark.parametrize(
    ('caches', 'said'),
    [
        ({'executor': 'local', 'cleared_at': None}, 'Never cleared.'),
        ({'executor': 'local', 'cleared_at': '2026-11-27T12:23:41.5+00:00'}, 'Last cleared 2026-11-27 12:23 UTC.'),
        (
            {'executor': 'celery', 'cleared_at': None},
            'Never cleared. Each Celery worker keeps its own caches, on its machine; their sizes are as each worker'
            ' measured them when a run there last ended.',
        ),
    ],
)
def test_when_they_were_cleared(caches: dict, said: str) -> None:
    assert cleared_text(caches) == said
