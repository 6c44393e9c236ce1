"""The OpenAPI document says which operations need `Authorization: Bearer <token>`: Swagger UI's "Authorize"
and generated clients depend on it (api/reference_pages.py)."""

from __future__ import annotations

import pytest

from app.api.reference_pages import with_bearer_auth


def _document(*paths: str) -> dict:
    return {'openapi': '3.1.0', 'paths': {path: {'get': {'operationId': path}} for path in paths}}


@pytest.mark.parametrize(
    ('path', 'needs_token'),
    [
        ('/api/runs', True),
        ('/api/runs/{run_id}', True),
        ('/api/projects/{project_id}/hooks', True),  # a project's settings, not a forge's delivery
        ('/api/health', False),
        ('/api/health/live', False),
        ('/api/health/ready', False),
        ('/api/hooks/github', False),  # forges sign their deliveries
        ('/api/projects/{project_id}/badges', True),  # the key is a team's to read
        ('/api/badges/{project_id}/{key}/{kind}.svg', False),  # the key in the address is the credential
    ],
)
def test_every_operation_but_the_probes_and_forge_hooks_asks_for_the_bearer_token(path: str, needs_token: bool) -> None:
    document = with_bearer_auth(_document(path))
    assert document['components']['securitySchemes']['bearer']['scheme'] == 'bearer'
    assert document['security'] == [{'bearer': []}]
    operation = document['paths'][path]['get']
    # an operation without its own `security` takes the document's: the token
    assert ('security' not in operation) == needs_token
    if not needs_token:
        assert operation['security'] == []


def test_schemes_the_document_already_has_are_kept() -> None:
    document = _document('/api/runs')
    document['components'] = {'schemas': {'Run': {'type': 'object'}}}
    assert with_bearer_auth(document)['components']['schemas'] == {'Run': {'type': 'object'}}
