"""What the Settings page relies on, on every backend: a forge token is never shown, and sending its mask back
(any change of the issue source made without retyping the token) keeps the stored token; the audit log names
the change without the token."""

from __future__ import annotations

from sqlmodel import Session

from app.models import Project

FORGE = {'kind': 'gitea', 'api_url': 'http://127.0.0.1:9/api/v1', 'owner': 'team', 'repo': 'svc'}


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
