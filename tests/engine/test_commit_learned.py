"""A run's start learns its commit's title (services/repositories/commits.py), so searches and notifications know
every started run's commit although no page ever showed it; on both executors' engine (here the server's own)."""

from __future__ import annotations

import time

from sqlalchemy import text

from app.models import TERMINAL_STATUSES
from tests.helpers.runs import create_project, shell_script, trigger
from tests.helpers.servers import api_server

COMMIT_OF_RUN = 'SELECT c.title, c.author_name FROM run r JOIN commit_info c ON c.sha = r.commit_sha WHERE r.id = :i'


def _ended(engine, run_id: str, timeout: float = 60) -> str:  # noqa: ANN001
    """The run's status once ended, read from the database (a read of the API would learn the title itself)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            status = conn.execute(text('SELECT status FROM run WHERE id = :id'), {'id': run_id}).scalar_one()
        if status in TERMINAL_STATUSES:
            return status
        time.sleep(0.1)
    raise AssertionError(f'{run_id} did not end')


def test_a_started_run_has_its_commit_named_without_any_read(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('echo hi')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run = trigger(client).json()
        assert _ended(server.services.engine, run['id']) == 'succeeded'
        with server.services.engine.connect() as conn:
            row = conn.execute(
                text(COMMIT_OF_RUN),
                {'i': run['id']},
            ).one()
        assert tuple(row) == ('main commit', 't')  # as tests/helpers/repos.py commits it
        found = client.get('/api/runs', params={'q': 'main commit'}).json()['items']
        assert [r['id'] for r in found] == [run['id']]
