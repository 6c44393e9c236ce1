"""A forge-hosted AFK project created without a repository: the forge's clone URL (served over http with
Basic auth) and the forge's token as its git credentials; it claims a ready issue, runs at the repository's
commit, and its pull request is found."""

from __future__ import annotations

from tests.afk.fake_forge import fake_forge
from tests.helpers.remote import TOKEN, USER, Remote
from tests.helpers.runs import wait_for_status
from tests.helpers.servers import api_server


def test_a_forge_hosted_afk_project_takes_its_clone_url_runs_and_finds_its_pull_request(
    settings_factory, http_remote: Remote
) -> None:  # noqa: ANN001
    with (
        fake_forge('gitea') as (forge_state, root),
        api_server(settings_factory(webhook_allowed_hosts='loopback')) as server,  # a forge on this machine
        server.client() as client,
    ):
        forge_state.token = TOKEN
        forge_state.clone_url = http_remote.url
        forge_state.add_issue(7, 'seven', ['ready-for-agent'], body='do it')
        source = {'kind': 'gitea', 'api_url': root, 'owner': 'o', 'repo': 'r', 'token': TOKEN, 'username': USER}
        body = {'id': 'forged', 'name': 'Forged', 'command': ['sh', '-c', 'git rev-parse HEAD; exit 3']}
        created = client.post('/api/projects', json={**body, 'issue_source': source})
        assert created.status_code == 201, created.text
        project = created.json()
        assert project['repository'] == http_remote.url and project['credentials_kind'] == 'token'
        assert TOKEN not in created.text

        forge_state.add_pull('afk/7', state='open')
        run = client.post('/api/afk/start/forged')
        assert run.status_code == 201, run.text
        assert run.json()['issue_number'] == 7
        done = wait_for_status(client, run.json()['id'])
        # the command exits 3, yet its pull request exists: the AFK run succeeded
        assert done['status'] == 'succeeded' and done['exit_code'] == 3, done
        head = http_remote.upstream.head('main')
        assert head in [e['text'] for e in done['events'] if e['type'] == 'output']
        assert done['commit_sha'] == head

        refused = client.post('/api/projects', json={**body, 'id': 'nowhere'})
        assert refused.status_code == 422 and refused.json()['field'] == 'repository'
