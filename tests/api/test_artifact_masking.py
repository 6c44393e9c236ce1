"""What Runboard reads from a run's files is masked as its log is (docs/security.md, "What is masked besides the log"),
on every backend: a real run whose failing pytest test prints a project secret (in its assertion message, its
parametrized name and its captured stdout, `-o junit_logging=all`) and a value the run declared with `::add-mask::`, and
which writes both into its summary, has `***` in GET /api/runs/{id}/tests, GET /api/runs/{id}/summary and the database,
as in its log; a file named after the secret is listed masked and not kept. The 101st `::add-mask::` value is past the
cap: not masked in the log, nor in the files. The artifacts themselves are downloaded as the run wrote them."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import text

from app.infra.db import session_scope
from tests.helpers.api import assert_problem
from tests.helpers.artifacts import DECLARED, PAST_CAP, SECRET, SECRET_SCRIPT, SECRET_TESTS
from tests.helpers.repos import make_repo
from tests.helpers.runs import create_project, trigger, wait_for_status
from tests.helpers.servers import api_server


def test_a_secret_a_run_writes_into_its_test_report_and_summary_is_masked(settings_factory, tmp_path: Path) -> None:  # noqa: ANN001
    repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': SECRET_SCRIPT, 'test_login.py': SECRET_TESTS}})
    # the run's sandbox shows this Python (its installation and the virtualenv holding pytest), read-only
    venv = Path(sys.prefix).resolve()  # not through a link in /tmp: the sandbox has a /tmp of its own
    python = ','.join(sorted({str(venv), str(Path(sys.base_prefix).resolve())}))
    with api_server(settings_factory(sandbox_read_only_paths=python)) as server, server.client() as client:
        create_project(client, repo)
        assert client.put('/api/projects/proj/secrets/API_TOKEN', json={'value': SECRET}).status_code in (200, 201)
        put = client.put('/api/projects/proj/variables/PYTHON', json={'value': str(venv / 'bin' / 'python')})
        assert put.status_code in (200, 201), put.text
        run = wait_for_status(client, trigger(client).json()['id'], timeout=120)
        assert run['status'] == 'failed', run

        log = client.get(f'/api/runs/{run["id"]}/log').text
        assert f'the log: *** *** {PAST_CAP}' in log  # the log's rule, the cap included
        assert SECRET not in log and DECLARED not in log

        tests = client.get(f'/api/runs/{run["id"]}/tests').json()
        [failure] = tests['failures']
        assert failure['name'] == 'test_login[***]' and failure['test_id'] == 'test_login::test_login[***]'
        assert 'the server refused ***' in failure['message']
        assert 'the server refused ***' in failure['trace']
        assert f'logging in with *** as ***\nand {PAST_CAP}' in failure['system_out']
        answered = str(tests)
        assert SECRET not in answered and DECLARED not in answered

        summary = client.get(f'/api/runs/{run["id"]}/summary')
        assert summary.status_code == 200, summary.text
        assert summary.json()['text'] == f'### Deploy\nused `***` for ***, and {PAST_CAP}\n'
        assert summary.json()['cut'] is False

        # a file named after a secret is listed by its masked name, and not kept (its name is how it downloads)
        items = {item['path']: item for item in client.get(f'/api/runs/{run["id"]}/artifacts').json()['items']}
        assert sorted(items) == ['junit.xml', 'report-***.txt', 'summary.md']
        assert not items['report-***.txt']['stored'] and 'masked' in items['report-***.txt']['refused']

        # nothing unmasked in the database: the test cases, the report, the summary, the timeline
        with session_scope(server.services.engine) as session:
            conn = session.connection()
            stored = [
                str(row)
                for table in ('testcase', 'testreport', 'runsummary', 'artifact')
                for row in conn.execute(text(f'SELECT * FROM {table} WHERE run_id = :r'), {'r': run['id']}).all()
            ]
            stored += [str(row) for row in conn.execute(text('SELECT text FROM runevent'))]
        assert stored and not [row for row in stored if SECRET in row or DECLARED in row]

        # the files themselves are downloaded as the run wrote them (as GitHub's artifacts are)
        raw = client.get(f'/api/runs/{run["id"]}/artifacts/summary.md').text
        assert raw == f'### Deploy\nused `{SECRET}` for {DECLARED}, and {PAST_CAP}\n'
        assert SECRET in client.get(f'/api/runs/{run["id"]}/artifacts/junit.xml').text


def test_a_run_without_a_summary_answers_a_problem(settings_factory, tmp_path: Path) -> None:  # noqa: ANN001
    repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': '#!/bin/sh\necho no summary\n'}})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        assert_problem(client.get(f'/api/runs/{run["id"]}/summary'), 404, 'no_summary')
        assert_problem(client.get('/api/runs/run_nope/summary'), 404, 'not_found')
