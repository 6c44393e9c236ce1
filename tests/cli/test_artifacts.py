"""`runboard runs artifacts RUN [--download DIR | --zip FILE]` and the tests part of `runboard runs show`, against a
real server (both backends): the list with sizes and refusals, the download byte for byte under DIR with each path
kept (or in one zip), the totals, the failing tests with their marks and the tests a run fixed; and
`runboard projects tests PROJECT`, the base branch's coverage per run."""

from __future__ import annotations

import subprocess
import zipfile
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from app.infra.db import session_scope
from app.models import utcnow
from app.services.artifacts import retention
from app.services.runs.timeline import timed_sql
from tests.helpers.artifacts import add_fixing_branch, artifact_repo, expected
from tests.helpers.cli import run_cli
from tests.helpers.runs import create_project, trigger, wait_for_status
from tests.helpers.servers import api_server


def test_list_download_and_show(settings_factory, tmp_path: Path) -> None:
    repo = artifact_repo(tmp_path / 'repo')
    with api_server(settings_factory(max_artifact_bytes=200_000)) as server, server.client() as client:
        create_project(client, repo)
        first = wait_for_status(client, trigger(client, depth='standard').json()['id'], timeout=60)
        run = wait_for_status(client, trigger(client, depth='standard').json()['id'], timeout=60)  # at the same depth

        def cli(*args: str):  # noqa: ANN202
            return run_cli(server.base_url, server.token, *args)

        listed = cli('runs', 'artifacts', run['id'])
        assert listed.code == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert any('screens/shot.png' in line and '49.6 KB' in line and 'yes' in line for line in lines), lines
        assert any(line.startswith('big.bin') and 'refused: 293.0 KB would take the run' in line for line in lines)
        assert [item['path'] for item in cli('runs', 'artifacts', run['id'], '--json').json()['items']] == [
            'big.bin',
            'junit.xml',
            'passwd-link',
            'report.html',
            'screens/shot.png',
        ]

        target = tmp_path / 'out'
        saved = cli('runs', 'artifacts', run['id'], '--download', str(target))
        assert saved.code == 0, saved.stderr
        assert f'3 artifact(s) of {run["id"]} saved in {target}' in saved.stdout
        for path, body in expected(repo).items():
            assert (target / path).read_bytes() == body
        assert sorted(p.relative_to(target).as_posix() for p in target.rglob('*') if p.is_file()) == sorted(
            expected(repo)
        )

        # --zip: all of them in one archive, each under its path; a run that kept none says so, and leaves no file
        archive = tmp_path / 'all.zip'
        zipped = cli('runs', 'artifacts', run['id'], '--zip', str(archive))
        assert zipped.code == 0, zipped.stderr
        assert f'The artifacts of {run["id"]} saved in {archive}' in zipped.stdout
        with zipfile.ZipFile(archive) as opened:
            assert {name: opened.read(name) for name in opened.namelist()} == expected(repo)
        nothing = tmp_path / 'nothing.zip'
        empty = cli('runs', 'artifacts', 'run_nope', '--zip', str(nothing))
        assert empty.code == 4 and 'not found' in empty.stderr and not nothing.exists()
        assert list(tmp_path.glob('.*.part')) == []
        both = cli('runs', 'artifacts', run['id'], '--zip', str(archive), '--download', str(target))
        assert both.code == 2 and 'not both' in both.stderr

        shown = cli('runs', 'show', run['id'])
        assert shown.code == 0, shown.stderr
        totals = 'Tests: 5 tests · 2 passed · 1 failed · 1 error · 1 skipped · 4.3 s summed over the tests'
        assert totals in shown.stdout
        test_a = next(line for line in shown.stdout.splitlines() if 'tests.test_api::test_a' in line)
        assert f'still failing since {first["id"]}' in test_a and 'assert 401 == 200' in test_a
        # following a run that failed ends with its failing tests, so nobody has to open it to see which
        followed = cli('runs', 'logs', run['id'], '--follow')
        assert followed.code != 0
        after_end = followed.stdout[followed.stdout.index(f'Run {run["id"]} failed') :]
        assert 'tests.test_api::test_a' in after_end and 'assert 401 == 200' in after_end
        as_json = cli('runs', 'show', run['id'], '--json').json()
        assert as_json['tests']['totals']['total'] == 5

        missing = cli('runs', 'artifacts', 'run_nope')
        assert missing.code != 0 and 'not found' in (missing.stderr + missing.stdout)

        # a branch's run that passes what main's run at its depth failed lists it as fixed, with that run
        add_fixing_branch(repo, 'feature/x')
        fixing = wait_for_status(client, trigger(client, branch='feature/x', depth='standard').json()['id'], timeout=60)
        shown = cli('runs', 'show', fixing['id'])
        test_a = next(line for line in shown.stdout.splitlines() if 'tests.test_api::test_a' in line)
        assert 'passed' in test_a and f'fixed (failed in {run["id"]})' in test_a  # main's last standard run


def test_the_summary_a_run_writes_is_shown_by_runs_show(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """A run appends Markdown to $RUNBOARD_SUMMARY (as to GitHub's $GITHUB_STEP_SUMMARY, in two steps); it is kept
    as the artifact summary.md and `runs show` renders it, with no escape sequence of the run's reaching the
    terminal; the summary is the one kept with the run (masked as its log), so a store that lost the file still
    shows it; a run that kept none (from before summaries were masked) is one line of `runs show`."""
    script = (
        'echo "### Coverage: 91 %" >> "$RUNBOARD_SUMMARY"\n'
        'printf "\\n| file | covered |\\n|---|---|\\n| app.py | 88 %% |\\n" >> "$RUNBOARD_SUMMARY"\n'
        'printf "\\033]0;renamed your terminal\\007done\\n" >> "$RUNBOARD_SUMMARY"\n'
    )
    repo = repo_factory({'main': {'run.sh': script}})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        assert run['status'] == 'succeeded', run
        kept = {item['path']: item for item in client.get(f'/api/runs/{run["id"]}/artifacts').json()['items']}
        assert kept['summary.md']['stored'] is True

        shown = run_cli(server.base_url, server.token, 'runs', 'show', run['id'])
        assert shown.code == 0, shown.stderr
        after = shown.stdout[shown.stdout.index('Summary') :]
        assert 'Coverage: 91 %' in after and '###' not in after  # rendered, not the raw Markdown
        assert 'app.py' in after and '88 %' in after  # the table
        assert 'done' in after and '\x1b' not in after and '\x07' not in after  # a title escape: dropped

        # the store lost the file after the run ended (a worker kept it where this server cannot read): the summary
        # is the one kept (masked) with the run, still shown
        server.services.artifact_store.delete(run['id'], ['summary.md'])
        shown = run_cli(server.base_url, server.token, 'runs', 'show', run['id'])
        assert shown.code == 0, shown.stderr
        assert 'Coverage: 91 %' in shown.stdout[shown.stdout.index('Summary') :]

        # a run that kept its summary before summaries were masked has none kept with it: one line says where it is
        with session_scope(server.services.engine) as session:
            session.connection().execute(text('DELETE FROM runsummary WHERE run_id = :r'), {'r': run['id']})
        shown = run_cli(server.base_url, server.token, 'runs', 'show', run['id'])
        assert shown.code == 0, shown.stderr
        assert run['id'] in shown.stdout and 'Coverage: 91 %' not in shown.stdout
        note = [line for line in shown.stdout.splitlines() if 'summary.md' in line]
        assert len(note) == 1 and 'before Runboard masked summaries' in note[0], shown.stdout


COVERAGE = """#!/bin/sh
cat > "$RUNBOARD_ARTIFACTS_DIR/coverage.xml" <<XML
<coverage line-rate="0" lines-covered="{covered}" lines-valid="8"><packages/></coverage>
XML
"""


def test_projects_tests_prints_the_base_branchs_coverage_run_by_run(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': {'run.sh': COVERAGE.format(covered=6)}})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        first = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        (repo / 'run.sh').write_text(COVERAGE.format(covered=7))  # a commit on main that covers one line more
        subprocess.run(
            ['git', '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '-qam', 'more tests'],
            cwd=repo,
            check=True,
        )
        assert client.post('/api/projects/proj/repository/refresh').status_code == 200
        second = wait_for_status(client, trigger(client).json()['id'], timeout=60)

        shown = run_cli(server.base_url, server.token, 'projects', 'tests', 'proj')
        assert shown.code == 0, shown.stderr
        assert f'Coverage on main 87.50 % · +12.50 since {first["id"]}' in shown.stdout
        rows = [line.split() for line in shown.stdout.splitlines() if line.startswith('run_')]
        assert [(row[0], row[-2]) for row in rows] == [(first['id'], '75.00'), (second['id'], '87.50')]
        assert 'No test has failed' not in shown.stdout  # no JUnit report: nothing said about tests

        plain = repo_factory({'main': {'run.sh': '#!/bin/sh\ntrue\n'}})
        create_project(client, plain, project_id='plain')
        none = run_cli(server.base_url, server.token, 'projects', 'tests', 'plain')
        assert none.code == 0 and 'No test or coverage reports yet.' in none.stdout


def test_artifacts_retention_removed_are_expired_not_none(settings_factory, tmp_path: Path) -> None:
    """A run whose artifacts retention removed: the list says they expired, --download and --zip fail (exit 4, as
    for a file not found) instead of saving nothing with success."""
    repo = artifact_repo(tmp_path / 'repo')
    with api_server(settings_factory(artifact_retention_days=30)) as server, server.client() as client:
        create_project(client, repo)
        run = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        with session_scope(server.services.engine) as session:
            session.connection().execute(
                timed_sql('UPDATE artifact SET created_at = :t WHERE run_id = :r', binds=('t',)),
                {'t': utcnow() - timedelta(days=31), 'r': run['id']},
            )
        assert retention.sweep(server.services.engine, server.services.artifact_store, days=30) == 3
        today = utcnow().date().isoformat()

        def cli(*args: str):  # noqa: ANN202
            return run_cli(server.base_url, server.token, *args)

        listed = cli('runs', 'artifacts', run['id'])
        assert listed.code == 0, listed.stderr
        assert f'The artifacts of {run["id"]} expired: artifact retention removed them on {today}.' in listed.stdout
        saved = cli('runs', 'artifacts', run['id'], '--download', str(tmp_path / 'out'))
        assert saved.code == 4 and 'expired' in saved.stderr, (saved.code, saved.stderr)
        zipped = cli('runs', 'artifacts', run['id'], '--zip', str(tmp_path / 'all.zip'))
        assert zipped.code == 4 and 'artifacts_expired' in zipped.stderr and not (tmp_path / 'all.zip').exists()
