"""What an agent spent, end to end on every backend (docs/pipelines.md, `::usage::`; docs/afk.md, "Cost"): two
`::usage input_tokens=1200,output_tokens=300,cost_usd=0.42::` lines give `usage.cost_usd` 0.84 in GET /api/runs/{id},
the runs list, `runboard runs show` and the run's webhook; a malformed usage line is text and counts nothing; the
project's daily AFK cost cap is set and removed with PATCH /api/projects/{id} and `runboard projects edit`, and bad
values are 422 problems."""

from __future__ import annotations

import json
import time

from tests.helpers.cli import run_cli
from tests.helpers.runs import create_project, shell_script, trigger, wait_for_status
from tests.helpers.servers import api_server
from tests.helpers.webhooks import receiver

AGENT = r"""echo '::usage input_tokens=1200,output_tokens=300,cost_usd=0.42::'
echo 'working'
echo '::usage cost_usd=abc::'
echo '::usage input_tokens=1200,output_tokens=300,cost_usd=0.42,model=m-1::'
exit 1"""


def test_usage_lines_are_summed_in_the_api_the_cli_and_the_webhook(settings_factory, repo_factory) -> None:
    fast = dict(notification_poll_seconds=0.2, webhook_allowed_hosts='loopback')
    repo = repo_factory({'main': shell_script(AGENT)})
    with receiver() as rx, api_server(settings_factory(**fast)) as server, server.client() as client:
        create_project(client, repo)
        reply = client.post('/api/projects/proj/notifications', json={'url': rx.url, 'events': ['run.failed']})
        assert reply.status_code == 201, reply.text
        run = wait_for_status(client, trigger(client).json()['id'])
        assert run['usage'] == {
            'input_tokens': 2400,
            'output_tokens': 600,
            'cost_usd': 0.84,
            'model': 'm-1',
            'reports': 2,
        }
        texts = [e['text'] for e in run['events'] if e['type'] == 'output']
        assert '::usage cost_usd=abc::' in texts  # malformed: a line of the log like any other
        assert '::usage input_tokens=1200,output_tokens=300,cost_usd=0.42::' in texts  # well formed: still shown
        [listed] = [r for r in client.get('/api/runs').json()['items'] if r['id'] == run['id']]
        assert listed['usage']['cost_usd'] == 0.84
        shown = run_cli(server.base_url, server.token, 'runs', 'show', run['id'])
        assert shown.code == 0, shown.stderr
        assert '$0.84 · 2,400 in / 600 out tokens · m-1' in shown.stdout
        (request,) = rx.wait_for(1)
        assert json.loads(request.body)['run']['usage']['cost_usd'] == 0.84


def test_a_run_without_usage_lines_has_none(settings_factory, repo_factory) -> None:
    repo = repo_factory({'main': shell_script('echo plain')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run = wait_for_status(client, trigger(client).json()['id'])
        assert run['usage'] is None


def test_the_daily_cost_cap_is_a_project_setting(settings_factory, repo_factory) -> None:
    repo = repo_factory({'main': shell_script('echo plain')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        assert client.get('/api/projects/proj').json()['afk_cost_cap_usd_per_day'] is None
        reply = client.patch('/api/projects/proj', json={'afk_cost_cap_usd_per_day': 20})
        assert reply.status_code == 200, reply.text
        assert reply.json()['afk_cost_cap_usd_per_day'] == 20.0
        for bad in (0, -1, 'lots'):
            refused = client.patch('/api/projects/proj', json={'afk_cost_cap_usd_per_day': bad})
            assert refused.status_code == 422 and refused.json()['error'] == 'validation', refused.text
        edited = run_cli(server.base_url, server.token, 'projects', 'edit', 'proj', '--afk-cost-cap', '1.5')
        assert edited.code == 0, edited.stderr
        assert client.get('/api/projects/proj').json()['afk_cost_cap_usd_per_day'] == 1.5
        shown = run_cli(server.base_url, server.token, 'projects', 'show', 'proj')
        assert 'AFK cost cap' in shown.stdout and '$1.50 a day' in shown.stdout
        removed = run_cli(server.base_url, server.token, 'projects', 'edit', 'proj', '--no-afk-cost-cap')
        assert removed.code == 0, removed.stderr
        assert client.get('/api/projects/proj').json()['afk_cost_cap_usd_per_day'] is None


SPENDER = r"""echo '::usage cost_usd=0.60::'
echo spent
sleep 300"""


def test_a_project_may_have_the_cap_stop_a_running_afk_run(settings_factory, repo_factory) -> None:
    """Off by default (the cap decides launches); with afk_cost_cap_stops_runs the run that passes it is stopped, as
    a person's Stop: neutral for the counter, its issue parked."""
    repo = repo_factory({'main': shell_script(SPENDER)})
    with api_server(settings_factory(heartbeat_seconds=1)) as server, server.client() as client:
        create_project(client, repo, afk_cost_cap_usd_per_day=0.5, afk_cost_cap_stops_runs=True)
        made = client.post('/api/projects/proj/issues', json={'title': 'Spend', 'labels': ['ready-for-agent']})
        assert made.status_code == 201, made.text
        run = wait_for_status(client, client.post('/api/afk/start/proj').json()['id'], timeout=60)
        assert run['status'] == 'stopped', run
        said = [e['text'] for e in run['events'] if e['type'] == 'status']
        assert "stopping: today's AFK cost $0.60 reached the project's cap of $0.50" in said
        project = client.get('/api/projects/proj').json()
        assert project['consecutive_failures'] == 0 and project['afk_cost_cap_stops_runs'] is True
        refused = client.patch('/api/projects/proj', json={'afk_cost_cap_stops_runs': None})
        assert refused.status_code == 422 and refused.json()['error'] == 'validation'

        # started by hand with the cap reached already: that person decided to spend, so its spending stops nothing
        client.post('/api/projects/proj/issues', json={'title': 'Spend more', 'labels': ['ready-for-agent']})
        decided = client.post('/api/afk/start/proj').json()['id']
        spending = wait_for_line_and_spend(client, decided, 'spent')
        assert spending['usage']['cost_usd'] == 0.6  # stored with the line, where the cap is checked
        time.sleep(2)  # two heartbeats: a stop asked would have ended it
        still = client.get(f'/api/runs/{decided}').json()
        assert still['status'] == 'running' and not any('stopping:' in e['text'] for e in still['events']), still
        client.post(f'/api/runs/{decided}/stop')
        assert wait_for_status(client, decided)['status'] == 'stopped'


def wait_for_line_and_spend(client, run_id: str, line: str, timeout: float = 60) -> dict:  # noqa: ANN001
    """The run once its log has `line` and its spend is read (the API reads the two a moment apart)."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(f'/api/runs/{run_id}').json()
        if any(e['text'] == line for e in run['events']) and run['usage'] is not None:
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.1)
