from __future__ import annotations

from tests.helpers import create_project, shell_script, trigger, wait_for_status
from tests.servers import api_server


def test_run_succeeds_and_stores_output_in_order(settings_factory, repo_factory) -> None:
    repo = repo_factory({'main': shell_script('for i in 1 2 3 4 5; do echo "line $i"; done\necho "::stage:: done"')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        reply = trigger(client)
        assert reply.status_code == 201, reply.text
        run = wait_for_status(client, reply.json()['id'])
        assert run['status'] == 'succeeded' and run['exit_code'] == 0
        outputs = [e['text'] for e in run['events'] if e['type'] == 'output']
        assert outputs == [f'line {i}' for i in range(1, 6)]
        seqs = [e['seq'] for e in run['events']]
        assert seqs == list(range(1, len(seqs) + 1))
        assert any(e['type'] == 'stage' and e['text'] == 'done' for e in run['events'])
