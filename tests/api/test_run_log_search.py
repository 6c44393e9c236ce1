"""GET /api/runs/{id}/search: the log viewer's search over a run's whole stored output, on every backend.
Lines are matched as the viewer shows them (ANSI codes ignored), in any case; the database pre-filters
ASCII needles, so the answers are checked against a plain Python reading of the same lines."""

from __future__ import annotations

import httpx

from app.infra.db import session_scope
from app.models import Role
from app.services.runs.timeline import append_events
from tests.helpers.api import add_user, assert_problem, run_body

LINES = [
    ('stage', 'build'),  # a stage header is a line of the log with the run's text: matched
    ('output', 'Compiling app v1.0'),
    ('output', '\x1b[31merror\x1b[0m: Something \x1b[1mBROKE\x1b[0m'),  # a match spans colour changes
    ('output', 'ERROR: disk 100% full_now'),
    ('output', 'an ordinary line'),
    ('status', 'error: not output'),  # a status line is Runboard's, not the run's: never matched
    ('output', 'Café CRÈME brûlée'),
    ('output', '\u212a marks a Kelvin sign'),  # lower() makes it a k
    ('output', 'I\u0307stanbul and \u0130zmir'),
    ('output', 'old 10%\r\x1b[32mnew 100%\x1b[0m'),  # shown: what follows the last \r
    ('output', 'tab\tseparated'),
]


def seed(api, lines=LINES) -> tuple[str, dict[str, int]]:  # noqa: ANN001
    """A queued run with these events stored; returns its id and each text's seq."""
    run_id = api.client.post('/api/runs', json=run_body()).json()['id']
    with session_scope(api.server.services.engine) as session:
        last = append_events(session.connection(), run_id, lines).last_seq
    first = last - len(lines) + 1
    return run_id, {body: first + i for i, (_, body) in enumerate(lines)}


def found(client: httpx.Client, run_id: str, q: str, **params) -> dict:  # noqa: ANN003
    reply = client.get(f'/api/runs/{run_id}/search', params={'q': q, **params})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_finds_output_lines_as_shown_in_any_case(api) -> None:  # noqa: ANN001
    run_id, seq = seed(api)
    error_line, disk_line = seq[LINES[2][1]], seq[LINES[3][1]]

    def seqs(q: str) -> list[int]:
        return found(api.client, run_id, q)['matches']

    assert seqs('error') == [error_line, disk_line]  # in order; not the status line
    assert seqs('error: something broke') == [error_line]  # across three colour spans
    assert seqs('[31m') == [] and seqs('\x1b') == []  # escape codes are not text
    assert seqs('build') == [seq['build']]  # the stage header, as the viewer shows it
    assert seqs('100% full_') == [disk_line]  # % and _ are characters, not wildcards
    assert seqs('%') == [disk_line, seq[LINES[9][1]]]
    assert seqs('new 100%') == [seq[LINES[9][1]]] and seqs('old') == []  # overwritten by the \r
    assert seqs('crème') == [seq[LINES[6][1]]] and seqs('CAFÉ') == [seq[LINES[6][1]]]  # beyond ASCII
    assert seqs('k marks') == [seq[LINES[7][1]]]  # the Kelvin sign folds to k, as Python folds it
    assert seqs('izmir') == [] and seqs('i\u0307zmir') == [seq[LINES[8][1]]]
    assert seqs('TAB\tsep') == [seq[LINES[10][1]]] and seqs(' ordinary ') == [seq[LINES[4][1]]]  # as typed
    assert seqs('nowhere at all') == []
    body = found(api.client, run_id, 'ERROR')
    assert body == {'q': 'ERROR', 'matches': [error_line, disk_line], 'total': 2, 'truncated': False}


def test_many_matches_are_capped_counted_and_paged(api) -> None:  # noqa: ANN001
    lines = [('output', f'step {n} ok ✓' if n % 3 else f'step {n} \x1b[32mOK ✓\x1b[0m') for n in range(1, 3001)]
    run_id, seq = seed(api, lines)
    every = [seq[body] for _, body in lines]

    first = found(api.client, run_id, 'OK')
    assert first['matches'] == every[:1000] and first['total'] == 3000 and first['truncated']
    second = found(api.client, run_id, 'ok', after=first['matches'][-1])
    assert second['matches'] == every[1000:2000] and second['total'] == 2000 and second['truncated']
    small = found(api.client, run_id, 'ok', limit=10, after=every[-5])
    assert small == {'q': 'ok', 'matches': every[-4:], 'total': 4, 'truncated': False}
    coloured = found(api.client, run_id, ' ok', limit=5)  # only every third line is coloured
    assert coloured['total'] == 3000 and coloured['matches'] == every[:5]
    non_ascii = found(api.client, run_id, 'OK ✓')  # no SQL shortcut for it: every line read, the same answer
    assert non_ascii == {**first, 'q': 'OK ✓'}


def test_a_progress_line_is_searched_as_its_last_redraw(api) -> None:  # noqa: ANN001
    """The viewer shows what follows a line's last carriage return (a progress bar's last state): a text only in
    the overwritten part is neither listed nor counted."""
    lines = [('output', f'Downloading {n}%\rfetched part {n}') for n in range(1, 6)] + [('output', 'downloading more')]
    run_id, seq = seed(api, lines)
    assert found(api.client, run_id, 'downloading') == {
        'q': 'downloading',
        'matches': [seq['downloading more']],
        'total': 1,
        'truncated': False,
    }
    fetched = found(api.client, run_id, 'FETCHED', limit=1)  # listed one, the rest counted
    assert fetched['total'] == 5 and fetched['matches'] == [seq[lines[0][1]]]
    plain = found(api.client, run_id, 'more', limit=1)
    assert plain['total'] == 1


def test_bad_queries_are_422_problems(api) -> None:  # noqa: ANN001
    run_id, _ = seed(api)
    path = f'/api/runs/{run_id}/search'
    for params in ({}, {'q': ''}, {'q': '   '}, {'q': 'x' * 201}, {'q': 'two\nlines'}):
        body = assert_problem(api.client.get(path, params=params), 422, 'validation')
        assert 'search text' in body['detail'], body
    assert found(api.client, run_id, 'x' * 200)['matches'] == []  # the longest allowed
    assert_problem(api.client.get(path, params={'q': 'a', 'limit': 1001}), 422, 'validation')
    assert_problem(api.client.get(path, params={'q': 'a', 'after': -1}), 422, 'validation')


def test_only_people_who_see_the_run_can_search_it(api) -> None:  # noqa: ANN001
    run_id, _ = seed(api)
    assert_problem(api.client.get('/api/runs/run_nope/search', params={'q': 'error'}), 404, 'not_found')
    outsider = add_user(api.server, team='team-b', role=Role.operator, name='bea')
    with api.server.client(outsider) as b:
        reply = b.get(f'/api/runs/{run_id}/search', params={'q': 'error'})
        assert_problem(reply, 404, 'not_found')
        assert b.get(f'/api/runs/{run_id}/events').status_code == 404  # the same rule as the events
    with httpx.Client(base_url=api.server.base_url) as anonymous:
        assert anonymous.get(f'/api/runs/{run_id}/search', params={'q': 'error'}).status_code == 401
