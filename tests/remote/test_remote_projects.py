"""Projects on remote repositories, through the API, against real git servers on loopback (file://,
`git daemon`, `git http-backend` behind Basic auth), on every backend: create, list branches, run at the
admitted commit, see new branches, and never leak a secret."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from app.services.repositories.access import TRIGGER_FRESH_SECONDS
from app.services.repositories.credentials import Credentials
from tests.helpers.remote import TOKEN, USER, Remote, credentials_body, git_processes_reaching, silent_port
from tests.helpers.runs import wait_for_status
from tests.helpers.servers import api_server

COMMAND = ['git', 'rev-parse', 'HEAD']  # the run prints the commit its worktree holds


def project_body(remote: Remote, project_id: str = 'app', **extra: object) -> dict:
    body: dict = {'id': project_id, 'name': 'App', 'repository': remote.url, 'command': COMMAND, **extra}
    if remote.credentials is not None:
        body['credentials'] = credentials_body(remote.credentials)
    return body


@pytest.fixture
def server(settings_factory):  # noqa: ANN001, ANN201
    with api_server(
        settings_factory(git_timeout_seconds=5, unknown_branch_fetch_seconds=0.5, mirror_refresh_min_seconds=0.5)
    ) as running:
        yield running


def outputs(run: dict) -> list[str]:
    """What the command printed (the engine's note on a fetch slower than 3 s, which a loaded machine can make, is
    not the command's)."""
    return [e['text'] for e in run['events'] if e['type'] == 'output']


def test_a_remote_project_lists_branches_and_runs_the_admitted_commit(
    server, remote: Remote, caplog: pytest.LogCaptureFixture
) -> None:  # noqa: ANN001
    caplog.set_level(logging.DEBUG)
    with server.client() as client:
        created = client.post('/api/projects', json=project_body(remote))
        assert created.status_code == 201, created.text
        project = created.json()
        assert project['has_credentials'] is (remote.credentials is not None)
        state = client.get('/api/projects/app/repository').json()
        assert state['remote'] and state['kind'] == remote.kind and state['fetched_at'] and not state['error']

        names = {b['name'] for b in client.get('/api/projects/app/branches').json()}
        assert names == {'main', 'feature/x'}

        head = remote.upstream.head('feature/x')
        run = client.post('/api/runs', json=run_body('feature/x')).json()
        assert run['commit_sha'] == head  # recorded at admission
        remote.upstream.commit('feature/x', 'later.txt', 'pushed after the run was admitted\n')
        done = wait_for_status(client, run['id'])
        assert done['status'] == 'succeeded', done
        assert outputs(done) == [head]  # the admitted commit, not the branch's newer head
        assert any(head[:12] in e['text'] for e in done['events'] if e['type'] == 'stage')

        # a branch pushed to the remote: in the picker after a refresh
        remote.upstream.commit('fresh/one', 'one.txt', '1\n')
        assert 'fresh/one' not in {b['name'] for b in client.get('/api/projects/app/branches').json()}
        time.sleep(0.6)  # past mirror_refresh_min_seconds: a refresh within it is answered from the last fetch
        refreshed = client.post('/api/projects/app/repository/refresh')
        assert refreshed.status_code == 200, refreshed.text
        assert 'fresh/one' in {b['name'] for b in client.get('/api/projects/app/branches').json()}

        # a trigger naming a branch the mirror does not know yet: one fetch, then admitted
        time.sleep(0.6)  # past unknown_branch_fetch_seconds
        new_head = remote.upstream.commit('fresh/two', 'two.txt', '2\n')
        second = client.post('/api/runs', json=run_body('fresh/two'))
        assert second.status_code == 201, second.text
        assert second.json()['commit_sha'] == new_head
        assert wait_for_status(client, second.json()['id'])['status'] == 'succeeded'

        # a name that exists nowhere: refused, and repeating it does not keep the server fetching
        for _ in range(3):
            assert client.post('/api/runs', json=run_body('no/such')).json()['error'] == 'validation'
        answers = [created.text, client.get('/api/projects').text, client.get(f'/api/runs/{run["id"]}').text]
    for text in [*answers, caplog.text]:
        assert TOKEN not in text


def run_body(branch: str) -> dict:
    return {'project_id': 'app', 'branch': branch, 'depth_level': 'shallow', 'target_framework': 'python'}


def test_a_wrong_token_is_a_clear_authentication_failure_and_never_leaks(
    server, http_remote: Remote, caplog: pytest.LogCaptureFixture
) -> None:  # noqa: ANN001
    caplog.set_level(logging.DEBUG)
    wrong = 'tok_wrong_0123456789'
    body = project_body(http_remote)
    body['credentials'] = {'kind': 'token', 'username': USER, 'secret': wrong}
    with server.client() as client:
        reply = client.post('/api/projects', json=body)
        assert reply.status_code == 422 and reply.json()['error'] == 'unsupported_repository', reply.text
        assert reply.json()['reason'] == 'auth_failed' and 'credentials' in reply.json()['detail']
        no_credentials = client.post('/api/projects', json={**body, 'credentials': None})
        assert no_credentials.json()['reason'] == 'auth_failed'
        # the right token works; the answer only says that credentials are set
        body['credentials']['secret'] = TOKEN
        created = client.post('/api/projects', json=body)
        assert created.status_code == 201 and created.json()['credentials_kind'] == 'token'
        texts = [reply.text, no_credentials.text, created.text, client.get('/api/projects/app/repository').text]
    for text in [*texts, caplog.text]:
        assert wrong not in text and TOKEN not in text


@pytest.fixture
def silent_remote() -> Iterator[str]:
    """An http remote that accepts connections and never answers."""
    with silent_port() as port:
        yield f'http://127.0.0.1:{port}/app.git'


def test_a_hanging_remote_does_not_delay_triggers_of_other_projects(server, upstream, silent_remote: str) -> None:  # noqa: ANN001
    with server.client() as client:
        for project_id in ('slow', 'quick'):
            body = project_body(Remote('file', f'file://{upstream.bare}', None, upstream), project_id)
            assert client.post('/api/projects', json=body).status_code == 201
        # the slow project's remote stops answering (as a forge that hangs would)
        from sqlalchemy import text

        from app.infra.db import session_scope

        with session_scope(server.services.engine) as session:
            session.connection().execute(
                text("UPDATE project SET repository = :r WHERE id = 'slow'"), {'r': silent_remote}
            )
        server.services.admitter.forget_project('slow')

        hung: dict = {}

        def trigger_unknown_branch_on_slow() -> None:
            started = time.monotonic()
            with httpx.Client(base_url=server.base_url, headers=client.headers, timeout=60) as other:
                hung['reply'] = other.post('/api/runs', json={**run_body('not/yet'), 'project_id': 'slow'})
            hung['seconds'] = time.monotonic() - started

        thread = threading.Thread(target=trigger_unknown_branch_on_slow)
        thread.start()
        time.sleep(0.5)  # the slow project's fetch is under way
        quick = client.post('/api/runs', json={**run_body('main'), 'project_id': 'quick'})
        still_hanging = thread.is_alive()
        thread.join(timeout=60)
    assert quick.status_code == 201, quick.text
    assert still_hanging  # admitted while the other project's fetch still hung (bench/remote.py measures it)
    reply = hung['reply']
    assert reply.status_code == 502 and reply.json()['error'] == 'repository_unavailable', reply.text
    assert reply.json()['reason'] in ('timeout', 'unreachable'), reply.json()


def wait_for_note(client: httpx.Client, run_id: str, start: str) -> dict:
    deadline = time.monotonic() + 15
    while True:
        run = client.get(f'/api/runs/{run_id}').json()
        if any(e['type'] == 'status' and e['text'].startswith(start) for e in run['events']):
            return run
        assert time.monotonic() < deadline, f'no line starting {start!r}: {run["events"]}'
        time.sleep(0.1)


@pytest.mark.parametrize('holder', ['run', 'scheduled fetch'])
def test_stop_ends_a_checkout_that_waits_on_a_remote(settings_factory, upstream, http_server, holder: str) -> None:  # noqa: ANN001
    """A run stuck in its checkout because the remote does not answer (git's timeout is minutes away) stops when
    asked, as a run whose command is running does: whether its own fetch waits, or it waits for the mirror while
    the scheduled fetch holds it. No git process of the run's is left waiting on the remote."""
    remote = Remote('http', http_server.url('app.git'), Credentials('token', USER, TOKEN), upstream)
    every = 0.5 if holder == 'scheduled fetch' else 3600
    # trigger_fetch_wait_seconds 0: the trigger reads the mirror as it is (its own fetch would be the one held)
    settings = settings_factory(mirror_refresh_min_seconds=0, mirror_fetch_seconds=every, trigger_fetch_wait_seconds=0)
    with api_server(settings) as running, running.client() as client:
        assert client.post('/api/projects', json=project_body(remote)).status_code == 201
        http_server.delay = 120  # from now on every fetch waits
        if holder == 'scheduled fetch':
            deadline = time.monotonic() + 15
            while not http_server.held:
                assert time.monotonic() < deadline, 'no scheduled fetch'
                time.sleep(0.05)
        reply = client.post('/api/runs', json=run_body('main'))  # the held fetch does not hold the trigger
        assert reply.status_code == 201, reply.text
        run = reply.json()
        deadline = time.monotonic() + 15
        while holder == 'run' and not http_server.held:
            assert time.monotonic() < deadline, "the run's own fetch never reached the remote"
            time.sleep(0.05)
        # its log says why nothing shows yet (the checkout stage is written once it is done), 3 s into the wait
        waiting = wait_for_note(client, run['id'], f'Fetching from {remote.url} is taking a while')
        assert waiting['status'] == 'running'
        assert http_server.held == 1  # the run's own fetch; or the scheduled one, the run waiting for the mirror
        assert client.post(f'/api/runs/{run["id"]}/stop').status_code == 202
        stopped = wait_for_status(client, run['id'], timeout=10)
        assert stopped['status'] == 'stopped' and stopped['error'] == 'stopped by local', stopped  # not a checkout's
        deadline = time.monotonic() + 10  # its git helpers end a moment after the git the run waited on
        while holder == 'run' and (left := git_processes_reaching(http_server.port)):
            assert time.monotonic() < deadline, f'git still waits on the remote after the Stop: {left}'
            time.sleep(0.1)
        http_server.released.set()


def test_a_trigger_right_after_a_push_runs_the_pushed_commit(server, remote: Remote) -> None:  # noqa: ANN001
    """`git push && runboard runs trigger`: the trigger fetches the mirror (unless a fetch is a moment old), so the
    run is of the commit just pushed, not of the branch as the last scheduled fetch saw it."""
    with server.client() as client:
        assert client.post('/api/projects', json=project_body(remote)).status_code == 201
        before = client.post('/api/runs', json=run_body('main')).json()
        assert before['commit_sha'] == remote.upstream.head('main')
        wait_for_status(client, before['id'])
        time.sleep(TRIGGER_FRESH_SECONDS)  # the mirror's last fetch (the run's, at its start) is not a moment old
        pushed = remote.upstream.commit('main', 'pushed.txt', 'pushed just now\n')
        after = client.post('/api/runs', json=run_body('main'))
        assert after.status_code == 201, after.text
        assert after.json()['commit_sha'] == pushed
        done = wait_for_status(client, after.json()['id'])
        assert done['status'] == 'succeeded' and outputs(done) == [pushed]


def test_a_trigger_whose_remote_stopped_answering_runs_the_branch_as_the_mirror_has_it(
    settings_factory,
    upstream,
    http_server,  # noqa: ANN001
) -> None:
    """The trigger's fetch waits trigger_fetch_wait_seconds, then the branch is read from the mirror as it is (the
    fetch goes on): a forge that hangs delays a Run by those seconds, not by git's timeout. A stopping server ends
    that fetch."""
    remote = Remote('http', http_server.url('app.git'), Credentials('token', USER, TOKEN), upstream)
    settings = settings_factory(mirror_refresh_min_seconds=0, mirror_fetch_seconds=3600, trigger_fetch_wait_seconds=1)
    with api_server(settings) as running, running.client() as client:
        assert client.post('/api/projects', json=project_body(remote)).status_code == 201
        time.sleep(TRIGGER_FRESH_SECONDS)  # the clone at its creation is not a moment old
        http_server.delay = 120  # from now on every fetch waits
        reply = client.post('/api/runs', json={**run_body('main'), 'depth_level': 'deep'})
        fetching = git_processes_reaching(http_server.port)  # answered while its fetch still waits on the remote
    # the server stopped: the fetch it left waiting is ended, not waited out (git's timeout is minutes away)
    left = git_processes_reaching(http_server.port)
    http_server.released.set()
    assert reply.status_code == 201, reply.text
    assert reply.json()['commit_sha'] == upstream.head('main')
    assert http_server.held >= 1 and fetching
    assert left == []
