"""Workflow commands end to end, on every backend (docs/pipelines.md, "What a command may print"): a command's
`::group::`/`::endgroup::` become group events, `::error|warning|notice::` lines become annotations (stored
with the run's log, answered in GET /api/runs/{id} with the seq of their log line, in the raw log as printed,
and in the run's webhook), `::add-mask::` masks from then on, and output before any `::stage::` marker is the
"run" stage's, not the checkout's."""

from __future__ import annotations

import json

from tests.helpers.runs import create_project, shell_script, trigger, wait_for_status
from tests.helpers.servers import api_server
from tests.helpers.webhooks import receiver

PIPELINE = r"""echo '::group::Install'
echo 'installing deps'
echo '::endgroup::'
echo '::error file=app.py,line=3::boom'
echo '::warning title=Lint%3A E1,file=b.py::unused import'
echo '::add-mask::hunter2'
echo hunter2
echo '::error file=app.py'
exit 2"""


def test_groups_annotations_and_masks(settings_factory, repo_factory) -> None:
    repo = repo_factory({'main': shell_script(PIPELINE)})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run = wait_for_status(client, trigger(client).json()['id'])
        assert run['status'] == 'failed'
        events = [(e['type'], e['text']) for e in run['events'] if e['type'] != 'status']
        assert events[1:] == [
            ('stage', 'run'),  # the first line is no marker: its output is the "run" stage's
            ('group', 'Install'),
            ('output', 'installing deps'),
            ('endgroup', ''),
            ('annotation', '::error file=app.py,line=3::boom'),
            ('annotation', '::warning title=Lint%3A E1,file=b.py::unused import'),
            ('output', '::add-mask::***'),
            ('output', '***'),
            ('output', '::error file=app.py'),  # malformed: an ordinary line
        ]
        seq = {e['text']: e['seq'] for e in run['events']}
        assert run['annotations'] == [
            {
                'seq': seq['::error file=app.py,line=3::boom'],
                'level': 'error',
                'message': 'boom',
                'title': None,
                'file': 'app.py',
                'line': 3,
                'end_line': None,
                'col': None,
                'end_column': None,
            },
            {
                'seq': seq['::warning title=Lint%3A E1,file=b.py::unused import'],
                'level': 'warning',
                'message': 'unused import',
                'title': 'Lint: E1',
                'file': 'b.py',
                'line': None,
                'end_line': None,
                'col': None,
                'end_column': None,
            },
        ]
        assert [(s['name'][:8], s['result']) for s in run['stages']] == [('checkout', 'succeeded'), ('run', 'failed')]
        # annotations are lines the command printed: counted, and in the raw log as printed; markers are not
        assert run['output_lines'] == 6
        raw = client.get(f'/api/runs/{run["id"]}/log').text
        assert raw.splitlines() == [
            'installing deps',
            '::error file=app.py,line=3::boom',
            '::warning title=Lint%3A E1,file=b.py::unused import',
            '::add-mask::***',
            '***',
            '::error file=app.py',
        ]
        assert 'hunter2' not in raw
        # a run without annotations answers an empty list, and so does a run page asking for no events
        assert (
            client.get(f'/api/runs/{run["id"]}', params={'events_limit': 0}).json()['annotations']
            == (run['annotations'])
        )


def test_output_without_markers_is_the_run_stage_and_its_failure_is_not_the_checkouts(
    settings_factory, repo_factory
) -> None:
    repo = repo_factory({'main': shell_script('echo plain\nexit 1')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run = wait_for_status(client, trigger(client).json()['id'])
        checkout, run_stage = run['stages']
        assert checkout['name'].startswith('checkout main @ ') and checkout['result'] == 'succeeded'
        assert (run_stage['name'], run_stage['result']) == ('run', 'failed')
        plain = next(e for e in run['events'] if e['text'] == 'plain')
        assert checkout['seq'] < run_stage['seq'] < plain['seq']  # the log folds `plain` under "run"
        assert run['annotations'] == []


def test_a_command_that_prints_nothing_still_fails_in_the_run_stage(settings_factory, repo_factory) -> None:
    repo = repo_factory({'main': shell_script('exit 4')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run = wait_for_status(client, trigger(client).json()['id'])
        assert [(s['name'][:8], s['result']) for s in run['stages']] == [('checkout', 'succeeded'), ('run', 'failed')]


def test_a_pipeline_starting_with_a_marker_has_no_run_stage(settings_factory, repo_factory) -> None:
    repo = repo_factory({'main': shell_script('echo "::stage:: build"\necho ok')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run = wait_for_status(client, trigger(client).json()['id'])
        assert [s['name'] for s in run['stages']][1:] == ['build']


def test_the_runs_webhook_carries_its_annotations_with_links_to_their_lines(settings_factory, repo_factory) -> None:
    fast = dict(notification_poll_seconds=0.2, webhook_allowed_hosts='loopback')
    repo = repo_factory({'main': shell_script("echo '::error file=app.py,line=3::boom'\nexit 1")})
    with receiver() as rx, api_server(settings_factory(**fast)) as server, server.client() as client:
        create_project(client, repo)
        reply = client.post('/api/projects/proj/notifications', json={'url': rx.url, 'events': ['run.failed']})
        assert reply.status_code == 201, reply.text
        run = wait_for_status(client, trigger(client).json()['id'])
        (request,) = rx.wait_for(1)
        (annotation,) = json.loads(request.body)['run']['annotations']
        seq = run['annotations'][0]['seq']
        assert (annotation['level'], annotation['message'], annotation['file'], annotation['line']) == (
            'error',
            'boom',
            'app.py',
            3,
        )
        assert annotation['url'].endswith(f'/runs/{run["id"]}#L{seq}')
