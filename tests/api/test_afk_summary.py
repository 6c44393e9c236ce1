"""GET /api/projects/{id}/afk/summary on every backend (docs/afk.md, "The summary"): real AFK runs of an agent that
commits on afk/<N> and reports its cost for one issue and fails on the other; the summary answers each issue's
outcome with its run, cost, branch and the size of its changes (from the branch Runboard kept), and the window's
cost. A `since` that names no window is a 422 problem, another team's project a 404."""

from __future__ import annotations

from tests.helpers.api import add_user, assert_problem
from tests.helpers.runs import create_project, shell_script, wait_for_status
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
