"""GET /api/about (the EnvProvenance facts) and the OpenAPI document's name, on every backend."""

from __future__ import annotations

from app.build_info import this_build
from app.models import Role
from tests.helpers.api import add_user, assert_problem


def test_about_names_the_server_its_mode_and_the_caller(api, backend: str) -> None:  # noqa: ANN001
    about = api.client.get('/api/about')
    assert about.status_code == 200, about.text
    body = about.json()
    assert (body['product'], body['version'], body['commit']) == ('Runboard', this_build().version, this_build().commit)
    # local mode is SQLite in-process; PostgreSQL (with Redis) is team mode
    expected = {'local': ('local', 'sqlite')}.get(backend, ('team', 'postgresql'))
    assert (body['mode'], body['database']) == expected
    assert body['executor'] == 'local' and body['instance']
    assert body['you']['role'] == 'operator'
    with api.server.client(add_user(api.server, name='bea', role=Role.builder)) as bea:
        assert bea.get('/api/about').json()['you'] == {
            'user_id': bea.get('/api/me').json()['user_id'],
            'name': 'bea',
            'role': 'builder',
        }


def test_about_needs_a_token(api) -> None:  # noqa: ANN001
    assert_problem(api.client.get('/api/about', headers={'Authorization': ''}), 401, 'unauthorized')


def test_the_api_document_is_named_runboard_with_its_version(api) -> None:  # noqa: ANN001
    document = api.client.get('/openapi.json').json()
    assert document['info'] == {'title': 'Runboard', 'version': this_build().label}
