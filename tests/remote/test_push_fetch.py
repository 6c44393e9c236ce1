"""Runs on push without webhooks (issue 37): a real `git push` to a bare repository served by `git daemon` makes
exactly one run of kind push at the pushed commit once a mirror fetch sees it, also with two server instances
fetching the same remote at once; a branch the rules do not select makes none. On every backend."""

from __future__ import annotations

import time

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import text

from app.services.repositories.credentials import Credentials
from tests.api.test_push_triggers import after_the_tip_check, deliver, github_push
from tests.helpers.api import QUEUED
from tests.helpers.remote import TOKEN, USER, Upstream, credentials_body, git_processes_reaching, sh_git
from tests.helpers.servers import api_server
from tests.remote.http_git import GitHttpServer


def push_runs(client: httpx.Client) -> list[dict]:
    return client.get('/api/runs', params={'project': 'app', 'kind': 'push'}).json()['items']


def wait_for_runs(client: httpx.Client, count: int, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        runs = push_runs(client)
        if len(runs) >= count:
            return runs
        if time.monotonic() > deadline:
            raise AssertionError(f'{len(runs)} push run(s), expected {count}')
        time.sleep(0.1)


def test_a_pushed_head_runs_once_on_two_servers(settings_factory, upstream: Upstream, git_daemon_url: str) -> None:
    first = settings_factory(**QUEUED, mirror_fetch_seconds=0.5, mirror_refresh_min_seconds=0.2)
    second = settings_factory(**QUEUED, mirror_fetch_seconds=0.5, mirror_refresh_min_seconds=0.2)
    with api_server(first) as one, api_server(second) as two, one.client() as client:
        body = {'id': 'app', 'name': 'App', 'repository': git_daemon_url, 'command': ['true']}
        assert client.post('/api/projects', json=body).status_code == 201
        rules = {'branches': ['main', 'release/*'], 'depth_level': 'deep', 'target_framework': 'go'}
        assert client.patch('/api/projects/app', json={'on_push': rules}).status_code == 200
        # the rules' first look is the baseline: what the remote held before is no push
        for server in (one, two):
            server.services.push_trigger.scan_all()
        assert push_runs(client) == []

        sha = upstream.commit('main', 'change.txt', 'one\n')  # git push to the served bare repository
        (run,) = wait_for_runs(client, 1)  # the scheduled fetch on either server saw it
        # both servers look again, at once and after: still one run
        for server in (one, two, one, two):
            server.services.push_trigger.scan_all()
        runs_now = push_runs(client)
        assert len(runs_now) == 1, [
            (r['id'], r['commit_sha'], r['idempotency_key'], r['status'], r['kind']) for r in runs_now
        ]
        (again,) = runs_now
        assert again['id'] == run['id']
        assert (run['kind'], run['commit_sha'], run['branch_name']) == ('push', sha, 'main')
        assert (run['depth_level'], run['target_framework']) == ('deep', 'go')
        assert run['idempotency_key'] == f'push:app:main:{sha}'

        # a branch the rules do not select makes none
        upstream.commit('wip/try', 'wip.txt', 'wip\n')
        for server in (one, two):
            server.services.push_trigger.scan(server.services.push_trigger._project('app'), max_age=0)
        assert len(push_runs(client)) == 1

        # a selected new branch does (its files are not known: it runs)
        release = upstream.commit('release/1', 'r.txt', 'r\n')
        runs = wait_for_runs(client, 2)
        assert {r['commit_sha'] for r in runs} == {sha, release}


def test_a_server_whose_mirror_is_behind_runs_no_older_head(
    settings_factory, upstream: Upstream, git_daemon_url: str
) -> None:  # noqa: E501
    """A push one server admitted (a webhook, its newer fetch) is not undone by another whose mirror was fetched
    before it: that mirror's older head is no push (it used to run the old commit and cancel the new one's run)."""
    quiet = dict(QUEUED, mirror_fetch_seconds=3600.0, mirror_refresh_min_seconds=0.0)  # scans when the test asks
    with (
        api_server(settings_factory(**quiet)) as one,
        api_server(settings_factory(**quiet)) as two,
        one.client() as client,
    ):
        body = {'id': 'app', 'name': 'App', 'repository': git_daemon_url, 'command': ['true']}
        assert client.post('/api/projects', json=body).status_code == 201
        assert client.patch('/api/projects/app', json={'on_push': {'branches': ['main']}}).status_code == 200
        for server in (one, two):  # both mirrors fetched now, before the push
            server.services.push_trigger.scan(server.services.push_trigger._project('app'), max_age=0)
        sha = upstream.commit('main', 'change.txt', 'one\n')
        first = one.services.push_trigger
        assert [o.outcome for o in first.scan(first._project('app'), max_age=0)] == ['admitted']
        behind = two.services.push_trigger
        assert behind.scan(behind._project('app'), max_age=3600) == []  # its mirror lacked the head acted on
        (run,) = push_runs(client)
        assert (run['commit_sha'], run['status']) == (sha, 'queued')


def test_a_behind_scan_overtaken_by_a_webhook_leaves_the_newer_run(
    settings_factory, upstream: Upstream, git_daemon_url: str, monkeypatch
) -> None:  # noqa: ANN001
    """Two servers: the first one's scan fetched B and checked the branch held it; C is pushed and the second
    server's webhook admits it. The first one's mirror has not got C: C's run is left queued (it used to be
    cancelled as "older", B's run admitted and push_head moved back to B), B waits behind it, push_head stays C."""
    shared = dict(QUEUED, mirror_fetch_seconds=3600.0, mirror_refresh_min_seconds=0.0)  # scans when the test asks
    shared['secret_key'] = Fernet.generate_key().decode()  # both servers read the hook secret
    with (
        api_server(settings_factory(**shared)) as one,
        api_server(settings_factory(**shared)) as two,
        one.client() as client,
        two.client() as client_two,
    ):
        body = {'id': 'app', 'name': 'App', 'repository': git_daemon_url, 'command': ['true']}
        assert client.post('/api/projects', json=body).status_code == 201
        rules = {'on_push': {'branches': ['main'], 'cancel_in_progress': True}}
        assert client.patch('/api/projects/app', json=rules).status_code == 200
        secret = client.post('/api/projects/app/hook-secret').json()['secret']
        for server in (one, two):
            server.services.push_trigger.scan(server.services.push_trigger._project('app'), max_age=0)
        b = upstream.commit('main', 'change.txt', 'one\n')
        newer: dict[str, str] = {}

        def push_c() -> None:
            newer['sha'] = upstream.commit('main', 'change.txt', 'two\n')
            hooked = deliver(client_two, 'github', 'push', github_push('main', b, newer['sha']), secret, 'app')
            assert hooked.json()['outcome'] == 'admitted', hooked.text

        after_the_tip_check(monkeypatch, one, b, push_c)
        first = one.services.push_trigger
        (outcome,) = first.scan(first._project('app'), max_age=0)
        c = newer['sha']
        assert (outcome.outcome, outcome.code) == ('refused', 'pr_lock')
        assert [(run['commit_sha'], run['status']) for run in push_runs(client)] == [(c, 'queued')]
        for server in (one, two):  # later scans on either server: nothing more
            scanning = server.services.push_trigger
            assert scanning.scan(scanning._project('app'), max_age=0) == []
        assert [(run['commit_sha'], run['status']) for run in push_runs(client)] == [(c, 'queued')]
        with one.services.engine.connect() as conn:
            assert (
                conn.execute(text("SELECT sha FROM push_head WHERE project_id = 'app' AND branch = 'main'")).scalar()
                == c
            )


def test_a_queued_run_of_a_commit_a_forced_push_took_away_is_superseded(
    settings_factory, upstream: Upstream, git_daemon_url: str
) -> None:  # noqa: ANN001
    """Two servers: the first one's webhook admits B; a forced push replaces B with C before the second server's
    mirror ever had B, and C's webhook reaches the second server. B's queued run ends `cancelled`, superseded by C
    and saying that B is no longer on the branch, and C runs (B's run used to be left alone as a newer head this
    mirror had not got yet: no fetch brings it, so it held the branch and every later push was refused pr_lock)."""
    shared = dict(QUEUED, mirror_fetch_seconds=3600.0, mirror_refresh_min_seconds=0.0)  # scans when the test asks
    shared['secret_key'] = Fernet.generate_key().decode()  # both servers read the hook secret
    with (
        api_server(settings_factory(**shared)) as one,
        api_server(settings_factory(**shared)) as two,
        one.client() as client,
        two.client() as client_two,
    ):
        body = {'id': 'app', 'name': 'App', 'repository': git_daemon_url, 'command': ['true']}
        assert client.post('/api/projects', json=body).status_code == 201
        rules = {'on_push': {'branches': ['main'], 'cancel_in_progress': True}}
        assert client.patch('/api/projects/app', json=rules).status_code == 200
        secret = client.post('/api/projects/app/hook-secret').json()['secret']
        for server in (one, two):  # both mirrors fetched now, before B exists
            server.services.push_trigger.scan(server.services.push_trigger._project('app'), max_age=0)
        start = upstream.head('main')
        b = upstream.commit('main', 'change.txt', 'one\n')
        hooked = deliver(client, 'github', 'push', github_push('main', start, b), secret, 'app').json()
        assert hooked['outcome'] == 'admitted', hooked
        (b_run,) = hooked['run_ids']
        sh_git('reset', '-q', '--hard', start, cwd=upstream.work)
        c = upstream.commit('main', 'other.txt', 'two\n')  # pushed with --force: B is on no branch now

        forced = {**github_push('main', b, c), 'forced': True}
        reply = deliver(client_two, 'github', 'push', forced, secret, 'app').json()
        assert reply['outcome'] == 'admitted', reply
        by_id = {run['id']: run for run in push_runs(client)}
        assert {(run['commit_sha'], run['status']) for run in by_id.values()} == {(b, 'cancelled'), (c, 'queued')}
        error = client.get(f'/api/runs/{b_run}').json()['error']
        assert 'superseded by a newer push' in error and f'{b[:12]} is no longer on main' in error, error
        with two.services.engine.connect() as conn:
            assert (
                conn.execute(text("SELECT sha FROM push_head WHERE project_id = 'app' AND branch = 'main'")).scalar()
                == c
            )


def stuck_project(http_server: GitHttpServer) -> dict:
    """A project on the loopback http remote, which the tests make hold every fetch."""
    return {
        'id': 'stuck',
        'name': 'Stuck',
        'repository': http_server.url('app.git'),
        'command': ['true'],
        'credentials': credentials_body(Credentials('token', USER, TOKEN)),
    }


def test_a_remote_that_does_not_answer_holds_only_its_own_push_scan(
    settings_factory, upstream: Upstream, git_daemon_url: str, http_server: GitHttpServer
) -> None:
    """Push scans without webhooks: while one project's remote holds every fetch unanswered, another project's push
    is still found by the next scans (each project is scanned on its own, a few at a time)."""
    settings = settings_factory(**QUEUED, mirror_fetch_seconds=0.5, mirror_refresh_min_seconds=0.2)
    with api_server(settings) as server, server.client() as client:
        stuck = stuck_project(http_server)
        for body in (stuck, {'id': 'app', 'name': 'App', 'repository': git_daemon_url, 'command': ['true']}):
            assert client.post('/api/projects', json=body).status_code == 201
            assert (
                client.patch(f'/api/projects/{body["id"]}', json={'on_push': {'branches': ['main']}}).status_code == 200
            )
        http_server.delay = 120  # from now on the stuck remote holds every fetch
        time.sleep(0.3)  # a fetch that got in just before is answered (CI once counted one past the read)
        answered = http_server.ref_advertisements()
        time.sleep(1.5)  # three passes: the stuck project's scan and fetch are waiting on its remote
        assert http_server.ref_advertisements() == answered
        sha = upstream.commit('main', 'change.txt', 'one\n')
        (run,) = wait_for_runs(client, 1, timeout=8)  # the scans of the answering remote went on
        assert (run['project_id'], run['commit_sha']) == ('app', sha)
        http_server.released.set()


def test_a_stopping_server_ends_the_fetches_a_remote_holds(
    settings_factory, upstream: Upstream, http_server: GitHttpServer
) -> None:
    """A server that stops does not wait out git's timeout (minutes) for a remote that does not answer, and leaves no
    git process behind: the fetches and push scans it holds are ended with it."""
    settings = settings_factory(**QUEUED, mirror_fetch_seconds=0.5, mirror_refresh_min_seconds=0.2)
    with api_server(settings) as server, server.client() as client:
        assert client.post('/api/projects', json=stuck_project(http_server)).status_code == 201
        assert client.patch('/api/projects/stuck', json={'on_push': {'branches': ['main']}}).status_code == 200
        http_server.delay = 120
        deadline = time.monotonic() + 15
        while http_server.held == 0 or not git_processes_reaching(http_server.port):
            assert time.monotonic() < deadline, 'no fetch reached the remote'
            time.sleep(0.1)
    assert not server.thread.is_alive()
    deadline = time.monotonic() + 10  # the ended commands' SIGTERM grace is 2 s; git's own timeout is 120 s
    while left := git_processes_reaching(http_server.port):
        assert time.monotonic() < deadline, f'git still waits on the remote after the server stopped: {left}'
        time.sleep(0.1)
