"""Output reaches the timeline in order, numbered, bounded; reaping follows the process's exit."""

from __future__ import annotations

from app.services.execution import procs
from tests.helpers.runs import create_project, outputs, shell_script, statuses, trigger, wait_for_status
from tests.helpers.servers import api_server


def test_run_succeeds_and_stores_output_in_order(settings_factory, repo_factory) -> None:
    repo = repo_factory({'main': shell_script('for i in 1 2 3 4 5; do echo "line $i"; done\necho "::stage:: done"')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        reply = trigger(client)
        assert reply.status_code == 201, reply.text
        run = wait_for_status(client, reply.json()['id'])
        assert run['status'] == 'succeeded' and run['exit_code'] == 0
        assert outputs(run) == [f'line {i}' for i in range(1, 6)]
        seqs = [e['seq'] for e in run['events']]
        assert seqs == list(range(1, len(seqs) + 1))
        assert any(e['type'] == 'stage' and e['text'] == 'done' for e in run['events'])
        assert statuses(run)[0] == 'queued' and statuses(run)[-1].startswith('succeeded')


def test_stderr_is_merged_in_order_long_lines_cut_and_output_bounded(settings_factory, repo_factory) -> None:
    script = shell_script(
        'echo out-1\necho err-1 >&2\necho out-2\necho err-2 >&2\n'
        "head -c 5000 /dev/zero | tr '\\0' x; echo\n"  # one 5000-character line
        "printf 'nul\\000byte\\n'\n"  # PostgreSQL text cannot hold NUL: stored with a replacement mark
        'echo after-long\n'
        'i=0; while [ $i -lt 3000 ]; do echo "n-$i"; i=$((i+1)); done\n'
        "echo '::usage cost_usd=0.25::'\n"  # an agent's spend, said last: counted though its line is not stored
        'exit 3'
    )
    repo = repo_factory({'main': script})
    settings = settings_factory(max_line_chars=100, max_output_lines=8)
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        run = wait_for_status(client, trigger(client).json()['id'])
        assert run['status'] == 'failed' and run['exit_code'] == 3
        lines = outputs(run)
        assert lines[:4] == ['out-1', 'err-1', 'out-2', 'err-2']
        assert lines[4].startswith('x' * 100) and not lines[4].startswith('x' * 101)
        assert 'line cut at 100 characters' in lines[4]
        assert lines[5:] == ['nul\ufffdbyte', 'after-long', 'n-0']  # 8 lines stored, the rest dropped
        assert run['output_lines'] == 8
        assert run['usage']['cost_usd'] == 0.25 and run['usage']['reports'] == 1
        truncations = [s for s in statuses(run) if s.startswith('output truncated')]
        assert len(truncations) == 1
        assert statuses(run)[-1].startswith('failed')  # the terminal status is the timeline's last word
        assert [e['seq'] for e in run['events']] == list(range(1, len(run['events']) + 1))


def test_reaped_on_exit_even_when_a_background_child_holds_the_output_open(settings_factory, repo_factory) -> None:
    # The main process exits at once; its child would keep the pipe open for 1000 s. The safety poll is
    # switched off, so only the event-driven path can reap it; the child must not outlive the run.
    repo = repo_factory({'main': shell_script('sleep 1000 &\necho leaving')})
    with api_server(settings_factory(reaper_poll_seconds=3600)) as server, server.client() as client:
        create_project(client, repo)
        run = wait_for_status(client, trigger(client).json()['id'], timeout=60)
        assert run['status'] == 'succeeded' and outputs(run) == ['leaving']
        assert procs.processes_of_run(run['id']) == []


def test_output_faster_than_the_database_is_held_back_not_lost(settings_factory, repo_factory, monkeypatch) -> None:
    from app.services.execution import output_ingest

    monkeypatch.setattr(output_ingest, 'MAX_BUFFERED_LINES', 100)  # the reader must wait for the store often
    repo = repo_factory({'main': shell_script('seq 1 3000')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        run = wait_for_status(client, trigger(client).json()['id'])
        assert run['status'] == 'succeeded'
        stored = client.get(f'/api/runs/{run["id"]}/events', params={'limit': 10_000}).json()
        assert [e['text'] for e in stored if e['type'] == 'output'] == [str(i) for i in range(1, 3001)]
