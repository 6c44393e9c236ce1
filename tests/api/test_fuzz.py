"""Fuzz every operation of /openapi.json with random paths, bodies and headers: no answer is a 5xx,
and every 4xx is a problem+json carrying the request's correlation id."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.services.repositories import gitops
from tests.helpers.api import run_body

EXAMPLES = 200
SKIP = {('GET', '/api/events')}  # an endless stream; covered in test_http
PRINTABLE = st.characters(min_codepoint=32, max_codepoint=126)
HEADER_TEXT = st.text(PRINTABLE, max_size=300).map(str.strip)  # h11 refuses to send outer spaces
ANY_TEXT = st.text(st.characters(blacklist_categories=('Cs',)), max_size=40)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=6,
)


def _operations(schema: dict) -> list[tuple[str, str, list[str]]]:
    ops = []
    for path, item in schema['paths'].items():
        for method, op in item.items():
            if method.upper() in ('GET', 'POST', 'PATCH', 'PUT', 'DELETE') and (method.upper(), path) not in SKIP:
                ref = op.get('requestBody', {}).get('content', {}).get('application/json', {}).get('schema', {})
                ref = ref.get('$ref') or next((s.get('$ref') for s in ref.get('anyOf', []) if '$ref' in s), None)
                props = list(schema['components']['schemas'][ref.split('/')[-1]]['properties']) if ref else []
                ops.append((method.upper(), path, props))
    return ops


def _shaped_body(props: list[str], repo: str):  # noqa: ANN202
    """Mostly-plausible objects with the operation's own field names, and some strangers."""
    plausible = st.sampled_from(
        [
            'proj',
            'main',
            'feature/a',
            'shallow',
            'python',
            repo,
            '/nonexistent',
            'file:///nonexistent',
            ['sh', 'run.sh'],
            [],
            0,
            -1,
            10**9,
            None,
            '',
            '\x00',
        ]
    )
    value = plausible | json_values
    keys = st.sampled_from(props) if props else ANY_TEXT
    return st.dictionaries(
        keys | ANY_TEXT.filter(lambda k: not props or k not in props), value, max_size=6
    ) | st.fixed_dictionaries({k: value for k in props})


def test_fuzz_openapi_operations(api, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setitem(gitops.GIT_ENV, 'GIT_ALLOW_PROTOCOL', 'file')  # random URLs never leave the machine
    # FastAPI builds the schema on its first request: ~0.6 s here, past httpx's 5 s on a loaded machine once
    schema = httpx.get(api.server.base_url + '/openapi.json', timeout=60).json()
    operations = _operations(schema)
    assert len(operations) >= 10
    run_id = api.client.post('/api/runs', json=run_body()).json()['id']
    path_values = st.sampled_from([run_id, 'proj', 'nope']) | ANY_TEXT.filter(lambda t: t not in ('', '.', '..'))
    headers = st.fixed_dictionaries(
        {},
        optional={
            'Idempotency-Key': HEADER_TEXT,
            'X-Idempotency-Key': HEADER_TEXT,
            'X-Correlation-ID': HEADER_TEXT,
            'Content-Type': st.sampled_from(
                [
                    'application/json',
                    'text/plain',
                    'application/x-www-form-urlencoded',
                    'multipart/form-data',
                    'application/problem+json',
                ]
            ),
        },
    )
    seen: dict[int, int] = {}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def one_request(data) -> None:  # noqa: ANN001
        method, template, props = data.draw(st.sampled_from(operations))
        path = re.sub(r'\{[^}]+\}', lambda _: quote(data.draw(path_values), safe=''), template)
        if data.draw(st.booleans()):
            path = path.removeprefix('/api')  # the bare paths too
        kwargs: dict = {'headers': data.draw(headers)}
        query = data.draw(
            st.dictionaries(
                st.sampled_from(['limit', 'cursor', 'status', 'after', 'project', 'events_limit', 'x']),
                ANY_TEXT,
                max_size=3,
            )
        )
        if query:
            kwargs['params'] = query
        if method != 'GET':
            body = data.draw(
                _shaped_body(props, str(api.repo)) | json_values | st.binary(max_size=64).map(lambda b: ('raw', b))
            )
            if isinstance(body, tuple):
                kwargs['content'] = body[1]
            else:
                kwargs['content'] = json.dumps(body).encode()
                kwargs['headers'].setdefault('Content-Type', 'application/json')
        kwargs['headers'].setdefault('Accept', 'application/json')
        reply = api.client.request(method, path, **kwargs)
        seen[reply.status_code] = seen.get(reply.status_code, 0) + 1
        assert reply.status_code < 500, (method, path, kwargs, reply.text)
        assert reply.headers.get('x-correlation-id'), (method, path)
        if reply.status_code >= 400:
            assert reply.headers['content-type'].startswith('application/problem+json'), (method, path, reply.text)
            problem = reply.json()
            assert problem['correlation_id'] == reply.headers['x-correlation-id']
            assert problem['status'] == reply.status_code and problem['error'], problem

    one_request()
    print('fuzz statuses', dict(sorted(seen.items())))
    assert any(code < 300 for code in seen) and any(code >= 400 for code in seen), seen
