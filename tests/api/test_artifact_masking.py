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

        # the Artifacts tab's previews are masked too: the files hold the values, what the page shows does not
        preview = client.get(f'/api/runs/{run["id"]}/previews/summary.md')
        assert preview.status_code == 200, preview.text
        assert preview.json() == {
            'path': 'summary.md',
            'text': f'### Deploy\nused `***` for ***, and {PAST_CAP}\n',
            'cut': False,
            'masked': True,
            'checked': True,
        }
        report = client.get(f'/api/runs/{run["id"]}/previews/junit.xml').json()
        assert report['masked'] and 'test_login[***]' in report['text']
        assert SECRET not in report['text'] and DECLARED not in report['text']

        # nothing unmasked in the database: the test cases, the report, the summary, the previews, the timeline
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


PLAIN_FILES = """#!/bin/sh
printf 'nothing secret here\\n' > "$RUNBOARD_ARTIFACTS_DIR/notes.txt"
head -c 70000 /dev/zero | tr '\\0' 'a' > "$RUNBOARD_ARTIFACTS_DIR/long.log"
printf '\\001\\002' > "$RUNBOARD_ARTIFACTS_DIR/data.bin"
"""


def test_a_preview_with_nothing_to_mask_is_the_file_and_only_text_is_previewed(
    settings_factory, tmp_path: Path
) -> None:  # noqa: ANN001
    repo = make_repo(tmp_path / 'repo', {'main': {'run.sh': PLAIN_FILES}})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        assert client.put('/api/projects/proj/secrets/API_TOKEN', json={'value': SECRET}).status_code in (200, 201)
        run = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        assert run['status'] == 'succeeded', run
        base = f'/api/runs/{run["id"]}/previews'

        notes = client.get(f'{base}/notes.txt').json()
        assert notes == {
            'path': 'notes.txt',
            'text': 'nothing secret here\n',
            'cut': False,
            'masked': False,
            'checked': True,
        }
        long = client.get(f'{base}/long.log').json()
        assert long['cut'] is True and long['text'] == 'a' * 64 * 1024  # its first 64 KiB; the rest is downloaded
        assert_problem(client.get(f'{base}/data.bin'), 415, 'not_previewed')
        assert_problem(client.get(f'{base}/nope.txt'), 404, 'not_found')
        assert_problem(client.get('/api/runs/run_nope/previews/notes.txt'), 404, 'not_found')

        # a file kept before previews were masked says so: its preview is the file, unchecked
        with session_scope(server.services.engine) as session:
            session.connection().execute(
                text("UPDATE artifact SET preview_checked = false WHERE run_id = :r AND path = 'notes.txt'"),
                {'r': run['id']},
            )
        assert client.get(f'{base}/notes.txt').json()['checked'] is False
