"""GET /api/projects/{id}/afk/summary on every backend (docs/afk.md, "The summary"): real AFK runs of an agent that
commits on afk/<N> and reports its cost for one issue and fails on the other; the summary answers each issue's
outcome with its run, cost, branch and the size of its changes (from the branch Runboard kept), and the window's
cost. A `since` that names no window is a 422 problem, another team's project a 404."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.helpers.api import add_user, assert_problem
from tests.helpers.runs import create_project, shell_script, wait_for_output, wait_for_status
from tests.helpers.servers import api_server

AGENT = r"""set -eu
echo "::usage input_tokens=900,output_tokens=100,cost_usd=0.25,model=m1::"
if [ "$RUNBOARD_ISSUE_NUMBER" = 2 ]; then echo "cannot do this one"; exit 3; fi
git switch -q -c "afk/$RUNBOARD_ISSUE_NUMBER"
printf 'one\ntwo\n' > done.txt
git add done.txt
git -c user.name=afk -c user.email=afk@example.invalid commit -q -m "Fix #$RUNBOARD_ISSUE_NUMBER"
"""


def test_the_summary_of_an_agents_runs(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script(AGENT)})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo, project_id='loc')
        for title in ('Write done.txt', 'Something it cannot do', 'Not yet'):
            made = client.post('/api/projects/loc/issues', json={'title': title, 'labels': ['ready-for-agent']})
            assert made.status_code == 201, made.text
        good = wait_for_status(client, client.post('/api/afk/start/loc').json()['id'])
        bad = wait_for_status(client, client.post('/api/afk/start/loc').json()['id'])
        assert (good['status'], bad['status']) == ('succeeded', 'failed')

        reply = client.get('/projects/loc/afk/summary', params={'since': '1h'})  # the bare path too
        assert reply.status_code == 200, reply.text
        seen = reply.json()
        assert (seen['runs'], seen['outcomes'], seen['cost_usd']) == (2, {'succeeded': 1, 'failed': 1}, 0.5)
        failed, succeeded = seen['issues']
        assert (failed['number'], failed['outcome'], failed['claim'], failed['cost_usd']) == (
            2,
            'failed',
            'parked',
            0.25,
        )
        assert [(r['id'], r['reason'], r['exit_code']) for r in failed['runs']] == [(bad['id'], 'exit code 3', 3)]
        assert (succeeded['number'], succeeded['outcome'], succeeded['claim']) == (1, 'succeeded', 'done')
        assert succeeded['runs'][0]['id'] == good['id'] and succeeded['branch'] == 'afk/1'
        assert succeeded['diff'] == {'files': 1, 'additions': 2, 'deletions': 0}  # kept from its checkout
        assert failed['diff'] is None and succeeded['pull_request'] is None  # a local project: no pull request
        assert [i['title'] for i in seen['untried']] == ['Not yet']
        assert seen['loop_state'] == 'auto_off' and seen['events'] == []  # two hand-started runs, one failure

        default = client.get('/api/projects/loc/afk/summary').json()  # the last 24 hours
        assert default['runs'] == 2 and default['since'] < seen['since']

        for bad_since in ('yesterday', '40d', '2999-01-01T00:00:00Z'):
            body = assert_problem(
                client.get('/api/projects/loc/afk/summary', params={'since': bad_since}), 422, 'validation'
            )
            assert bad_since in body['detail']

        stranger = add_user(server, team='other', name='eve')
        hidden = client.get('/api/projects/loc/afk/summary', headers={'Authorization': f'Bearer {stranger}'})
        assert_problem(hidden, 404, 'not_found')
        assert_problem(client.get('/api/projects/nope/afk/summary'), 404, 'not_found')


SLOW_AGENT = r"""set -eu
echo "::usage input_tokens=900,output_tokens=100,cost_usd=0.25,model=m1::"
echo "working"
sleep 2
exit 3
"""


def test_a_run_that_started_before_the_window_is_in_it(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """The agent's run starts (and reports its cost) before `since` and fails after it: the summary since then holds
    it, says it started before the window, and bills its whole cost there, where it ended. A change of the daily cap
    is audited with what it replaced (the summary's replay reads it)."""
    repo = repo_factory({'main': shell_script(SLOW_AGENT)})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo, project_id='loc')
        made = client.post('/api/projects/loc/issues', json={'title': 'Slow', 'labels': ['ready-for-agent']})
        assert made.status_code == 201, made.text
        run_id = client.post('/api/afk/start/loc').json()['id']
        wait_for_output(client, run_id, 'working')  # its cost is reported before the window
        since = datetime.now(UTC).isoformat()
        assert wait_for_status(client, run_id)['status'] == 'failed'

        seen = client.get('/api/projects/loc/afk/summary', params={'since': since}).json()
        assert (seen['runs'], seen['started_before_window'], seen['outcomes']) == (1, 1, {'failed': 1})
        [issue] = seen['issues']
        assert [(r['id'], r['started_before_window'], r['cost_usd']) for r in issue['runs']] == [(run_id, True, 0.25)]
        assert (seen['cost_usd'], seen['under_way_cost_usd']) == (0.25, 0.0)

        changed = client.patch('/api/projects/loc', json={'afk_cost_cap_usd_per_day': 2.5})
        assert changed.status_code == 200, changed.text
        changed = client.patch('/api/projects/loc', json={'afk_cost_cap_usd_per_day': 4})
        entry = client.get('/api/audit', params={'action': 'project.updated'}).json()['items'][0]
        assert entry['details'] == {
            'changed': {'afk_cost_cap_usd_per_day': 4.0},
            'was': {'afk_cost_cap_usd_per_day': 2.5},
        }
        assert client.get('/api/projects/loc/afk/summary').json()['cap_replay'] == 'as_in_force'
