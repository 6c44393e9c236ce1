"""What the Settings page relies on, on every backend: a forge token is never shown, and sending its mask back
(any change of the issue source made without retyping the token) keeps the stored token; the audit log names
the change without the token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session

from app.models import Project
from tests.helpers.api import QUEUED, Api, serving

FORGE = {'kind': 'gitea', 'api_url': 'http://127.0.0.1:9/api/v1', 'owner': 'team', 'repo': 'svc'}


@pytest.fixture
def api(settings_factory, repo: Path) -> Iterator[Api]:  # noqa: ANN001
    """The API tests' server, with a forge on this machine allowed (team mode refuses loopback by default)."""
    with serving(settings_factory(**QUEUED, webhook_allowed_hosts='loopback'), repo) as running:
        yield running


def _stored_source(api) -> dict:  # noqa: ANN001
    with Session(api.server.services.engine) as session:
        project = session.get(Project, 'proj')
        assert project is not None
        return dict(project.issue_source)


def test_the_masked_forge_token_sent_back_keeps_the_stored_one(api) -> None:  # noqa: ANN001
    set_token = api.client.patch('/api/projects/proj', json={'issue_source': {**FORGE, 'token': 's3cret'}})
    assert set_token.status_code == 200, set_token.text
    assert set_token.json()['issue_source']['token'] == '********'

    relabelled = api.client.patch(
        '/api/projects/proj', json={'issue_source': {**FORGE, 'token': '********', 'label': 'go'}}
    )
    assert relabelled.status_code == 200, relabelled.text
    assert _stored_source(api) == {**FORGE, 'token': 's3cret', 'label': 'go'}
    assert 's3cret' not in api.client.get('/api/audit').text
    change = api.client.get('/api/audit', params={'action': 'project.updated'}).json()['items'][0]
    assert change['details']['changed']['issue_source']['label'] == 'go'

    dropped = api.client.patch('/api/projects/proj', json={'issue_source': FORGE})  # no token: none stored
    assert dropped.status_code == 200, dropped.text
    assert _stored_source(api) == FORGE

    masked_without_stored = api.client.patch(
        '/api/projects/proj', json={'issue_source': {**FORGE, 'token': '********'}}
    )
    assert masked_without_stored.status_code == 200
    assert _stored_source(api) == FORGE  # the mask itself is never stored as a token


def test_a_forge_token_goes_only_where_it_was_given_and_no_server_variable_is_read(api) -> None:  # noqa: ANN001
    """An operator of one team must not have the server send its own secrets, or a stored token, to a host of
    their choosing: token_env names only RUNBOARD_FORGE_TOKEN_* variables, and the masked token sent back with a
    new api_url is refused (the token is given again for a new host)."""
    for bad in ('RUNBOARD_DATABASE_URL', 'RUNBOARD_SECRET_KEY', 'HOME'):
        source = {**FORGE, 'api_url': 'http://attacker.example/api/v1', 'token_env': bad}
        for refused in (
            api.client.patch('/api/projects/proj', json={'issue_source': source}),
            api.client.post(
                '/api/projects',
                json={
                    'id': 'p2',
                    'name': 'P2',
                    'repository': '',
                    'base_branch': 'main',
                    'command': ['true'],
                    'issue_source': source,
                },
            ),
        ):
            assert refused.status_code == 422 and refused.json()['error'] == 'validation', refused.text
            assert 'RUNBOARD_FORGE_TOKEN_<NAME>' in refused.json()['detail']
    allowed = api.client.patch(
        '/api/projects/proj', json={'issue_source': {**FORGE, 'token_env': 'RUNBOARD_FORGE_TOKEN_GITEA'}}
    )
    assert allowed.status_code == 200, allowed.text

    api.client.patch('/api/projects/proj', json={'issue_source': {**FORGE, 'token': 's3cret'}})
    moved = {**FORGE, 'api_url': 'http://attacker.example/api/v1', 'token': '********'}
    redirected = api.client.patch('/api/projects/proj', json={'issue_source': moved})
    assert redirected.status_code == 422 and 'give the token again' in redirected.json()['detail']
    assert _stored_source(api) == {**FORGE, 'token': 's3cret'}
