"""Through the real APScheduler job and the real run engine: a project whose command always fails
pauses itself at three failures with auto still on; Reset re-arms it."""

from __future__ import annotations

import time

from tests.helpers.runs import create_project, shell_script


def _auto_runs(client) -> list[dict]:  # noqa: ANN001
    return client.get('/api/runs', params={'project': 'flaky', 'kind': 'auto', 'limit': 100}).json()['items']


def _wait(predicate, timeout: float = 60):  # noqa: ANN001, ANN202
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, 'condition not reached'
        time.sleep(0.1)


def test_scheduler_pauses_a_failing_project_and_reset_rearms_it(settings_factory, repo_factory) -> None:  # noqa: ANN001
    from tests.helpers.servers import api_server

    repo = repo_factory({'main': shell_script('echo nope; exit 1')})
    with api_server(settings_factory(afk_sweep_seconds=0.3)) as server, server.client() as client:
        create_project(client, repo, project_id='flaky')
        for n in range(6):
            client.post('/api/projects/flaky/issues', json={'title': f'task {n}', 'labels': ['ready-for-agent']})
        assert client.post('/api/afk/auto/flaky', json={'enabled': True}).status_code == 200
        project = _wait(lambda: (p := client.get('/api/projects/flaky').json())['paused'] and p)
        assert project['consecutive_failures'] == 3 and project['auto_enabled']
        runs = _auto_runs(client)
        assert len(runs) == 3 and all(r['status'] == 'failed' for r in runs)
        assert sorted(r['issue_number'] for r in runs) == [1, 2, 3]
        time.sleep(1.5)  # several sweep periods: a paused project launches nothing more
        assert len(_auto_runs(client)) == 3
        assert client.post('/api/afk/reset/flaky').json()['paused'] is False
        fourth = _wait(lambda: [r for r in _auto_runs(client) if r['issue_number'] == 4])
        assert fourth[0]['kind'] == 'auto'


def test_a_kick_reaches_the_sweeping_instance(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """Switching auto on sweeps at once; in team mode the kick travels over Redis to the other instances
    too (the lease may be held by one of them)."""
    from tests.helpers.servers import api_server

    repo = repo_factory({'main': shell_script('exit 0')})
    # cap 0: nothing runs, so no run ends anywhere to kick a sweep: only the switch does
    first_settings = settings_factory(afk_sweep_seconds=600, global_run_cap=0)
    second_settings = settings_factory(
        afk_sweep_seconds=600, global_run_cap=0, database_url=first_settings.effective_database_url
    )
    with api_server(first_settings) as first, api_server(second_settings) as second, first.client() as client:
        create_project(client, repo, project_id='kicked')
        client.post('/api/projects/kicked/issues', json={'title': 'go', 'labels': ['ready-for-agent']})
        swept = {'first': 0, 'second': 0}
        for name, server in (('first', first), ('second', second)):
            loop = server.services.afk
            original = loop.sweep

            def counting(name=name, original=original):  # noqa: ANN001, ANN202
                swept[name] += 1
                return original()

            loop.sweep = counting
        assert client.post('/api/afk/auto/kicked', json={'enabled': True}).status_code == 200
        _wait(lambda: swept['first'] >= 1)
        if first_settings.redis_url:  # team mode (local mode is one instance with an in-process bus)
            _wait(lambda: swept['second'] >= 1)
