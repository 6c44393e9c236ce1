"""What the Settings page relies on, on every backend: a forge token is never shown, and sending its mask back
(any change of the issue source made without retyping the token) keeps the stored token; the audit log names
the change without the token. An edit made on the settings as they were read is refused (409 edit_conflict,
nothing saved) when another operator changed them since, also when the two saves race."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlmodel import Session

from app.models import Project
from tests.helpers.api import QUEUED, Api, assert_problem, serving

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


def test_an_edit_made_on_an_older_edit_version_is_refused_with_nothing_saved(api) -> None:  # noqa: ANN001
    """Two operators open the project's settings (edit version 1); the first saves; the second's save names the
    version it read and is a 409 edit_conflict instead of silently undoing the first's."""
    assert api.project['edit_version'] == 1
    first = api.client.patch('/api/projects/proj', json={'name': 'Mine', 'edit_version': 1})
    assert first.status_code == 200 and first.json()['edit_version'] == 2, first.text

    second = api.client.patch(
        '/api/projects/proj', json={'name': 'Theirs', 'max_concurrent_runs': 5, 'edit_version': 1}
    )
    problem = assert_problem(second, 409, 'edit_conflict')
    assert problem['current_version'] == 2 and problem['field'] == 'edit_version'
    assert 'Project “Mine” was changed by someone else since you read it (version 1, now 2)' in problem['detail']
    now = api.client.get('/api/projects/proj').json()
    assert (now['name'], now['max_concurrent_runs'], now['edit_version']) == ('Mine', 2, 2)
    audited = api.client.get('/api/audit', params={'action': 'project.updated'}).json()['items']
    assert [e['details']['changed'] for e in audited] == [{'name': 'Mine'}]  # the refused one: none

    # read again, the same edit is saved; a change to nothing (with or without the version) leaves it as it is, and
    # writes and records nothing
    again = api.client.patch('/api/projects/proj', json={'name': 'Theirs', 'max_concurrent_runs': 5, 'edit_version': 2})
    assert again.status_code == 200 and again.json()['edit_version'] == 3, again.text
    same = api.client.patch('/api/projects/proj', json={'name': 'Theirs', 'max_concurrent_runs': 5, 'edit_version': 3})
    assert same.status_code == 200 and same.json()['edit_version'] == 3
    assert api.client.patch('/api/projects/proj', json={'credentials': None}).json()['edit_version'] == 3  # had none
    assert len(api.client.get('/api/audit', params={'action': 'project.updated'}).json()['items']) == 2
    # what is no one's edit of the settings leaves it too: a cache clear, the AFK loop switched on
    assert api.client.post('/api/projects/proj/caches/clear').status_code == 200
    assert api.client.post('/api/afk/auto/proj', json={'enabled': True}).json()['edit_version'] == 3
    # an edit without the version applies to the project as it is now, and moves it on
    assert api.client.patch('/api/projects/proj', json={'network': 'none'}).json()['edit_version'] == 4
    assert_problem(api.client.patch('/api/projects/proj', json={'name': 'x', 'edit_version': 3}), 409, 'edit_conflict')
    for bad in (0, -1, 'two', None):
        refused = api.client.patch('/api/projects/proj', json={'name': 'x', 'edit_version': bad})
        assert assert_problem(refused, 422, 'validation')['field'] == 'edit_version', bad
    assert api.client.get('/api/projects/proj').json()['name'] == 'Theirs'


def test_of_two_settings_edits_saved_at_once_on_one_version_exactly_one_is_saved(api) -> None:  # noqa: ANN001
    """The edit version moves only from the one the saving transaction read: two saves racing on version 1 (two
    servers, or two tabs) cannot both pass its check and both be written."""
    start = threading.Barrier(2)

    def save(name: str) -> int:
        with api.server.client() as client:
            start.wait()
            return client.patch('/api/projects/proj', json={'name': name, 'edit_version': 1}).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(save, ['first', 'second']))
    assert codes == [200, 409]
    now = api.client.get('/api/projects/proj').json()
    assert now['edit_version'] == 2 and now['name'] in ('first', 'second')
    audited = api.client.get('/api/audit', params={'action': 'project.updated'}).json()['items']
    assert [e['details']['changed']['name'] for e in audited] == [now['name']]


def test_edits_that_name_no_version_are_all_saved_when_they_race(api) -> None:  # noqa: ANN001
    """The Settings page's own panels and scripts send no version: an edit of theirs is made on the project as it is
    when written, also when another save lands between its read and its write, never refused as a conflict with a
    version it did not claim."""
    for round_ in range(5):
        start = threading.Barrier(2)

        def save(name: str, start: threading.Barrier = start) -> int:
            with api.server.client() as client:
                start.wait()
                return client.patch('/api/projects/proj', json={'name': name}).status_code

        before = api.client.get('/api/projects/proj').json()['edit_version']
        with ThreadPoolExecutor(2) as pool:
            codes = list(pool.map(save, [f'first {round_}', f'second {round_}']))
        assert codes == [200, 200]
        now = api.client.get('/api/projects/proj').json()
        assert now['edit_version'] == before + 2 and now['name'] in (f'first {round_}', f'second {round_}')
