"""`runboard status` (the CLI's EnvProvenance), `runboard audit`, and the runs list's search and dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.build_info import this_build
from tests.helpers.cli import served

TRIGGER = ('runs', 'trigger', '--project', 'proj', '--framework', 'python', '--depth', 'shallow')


def test_status_says_which_server_mode_version_and_who(settings_factory, repo_factory, backend: str) -> None:  # noqa: ANN001
    with served(settings_factory, repo_factory) as (_server, cli):
        shown = cli('status')
        assert shown.code == 0, shown.stderr
        assert ('local' if backend == 'local' else 'team') in shown.stdout
        assert this_build().version in shown.stdout and '(operator)' in shown.stdout
        answer = cli('status', '--json').json()
        assert answer['cli']['version'] == this_build().version and answer['you']['role'] == 'operator'


def test_audit_lists_what_was_done_and_runs_list_searches(settings_factory, repo_factory) -> None:  # noqa: ANN001
    # no run slot: the run stays queued until it is stopped (a quick pipeline could end before the stop)
    with served(settings_factory, repo_factory, global_run_cap=0) as (_server, cli):
        run = cli(*TRIGGER, '--branch', 'main', '--json').json()
        assert cli('runs', 'stop', run['id']).code == 0
        log = cli('audit', '--action', 'run', '--json').json()['items']
        assert [(e['action'], e['target']) for e in log] == [('run.stopped', run['id']), ('run.triggered', run['id'])]
        human = cli('audit', '--action', 'run.stopped')
        assert 'stopped run' in human.stdout and run['id'] in human.stdout
        # a page's next-page hint goes to stderr, as runs list's: piped stdout is the rows only
        first = cli('audit', '--action', 'run', '-n', '1')
        assert first.code == 0 and 'stopped run' in first.stdout and 'triggered run' not in first.stdout
        assert 'More' not in first.stdout, first.stdout
        assert f'More: --cursor {log[0]["id"]}' in first.stderr
        rest = cli('audit', '--action', 'run', '-n', '1', '--cursor', str(log[0]['id']))
        assert 'triggered run' in rest.stdout and 'More' not in rest.stdout + rest.stderr
        # a typo is a usage error naming what was meant, not an empty log a script reads as "nothing happened"
        typo = cli('audit', '--action', 'run.stoped')
        assert typo.code == 2 and typo.stdout == '', typo.stdout
        said = ' '.join(typo.stderr.split())
        assert "no action 'run.stoped'. Did you mean run.stopped?" in said and 'unknown_audit_action' in said
        assert 'Correlation id: ' in said
        as_json = cli('audit', '--action', 'TYPO', '--json')
        assert as_json.code == 2 and as_json.json()['error'] == 'unknown_audit_action'
        assert 'run.stopped' in as_json.json()['known_actions']

        found = cli('runs', 'list', '--search', run['id'][-8:], '--json').json()['items']
        assert [r['id'] for r in found] == [run['id']]
        tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
        assert cli('runs', 'list', '--since', tomorrow, '--json').json()['items'] == []
        bad = cli('runs', 'list', '--since', 'soonish')
        assert bad.code != 0 and 'is not a date' in bad.stderr + bad.stdout
