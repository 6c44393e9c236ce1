"""The CLI against a running server (both backends): trigger, follow, replay, retry, refusals, logs."""

from __future__ import annotations

import threading

from sqlalchemy import text

from app.client import RunboardClient
from tests.cli.proxy import DroppingProxy
from tests.helpers.cli import run_cli, served
from tests.helpers.runs import shell_script, wait_for_output
from tests.helpers.servers import free_port

TRIGGER = ('runs', 'trigger', '--project', 'proj', '--framework', 'python')
BRANCHES = ('main', 'feature/x')  # the served project's; one active run each


def test_trigger_follow_exits_with_the_outcome_and_retry_links_retry_of(settings_factory, repo_factory) -> None:
    with served(settings_factory, repo_factory) as (server, cli):
        ok = cli(*TRIGGER, '--branch', 'main', '--depth', 'shallow', '--follow')
        assert ok.code == 0, ok.stderr
        assert 'Idempotency key: ' in ok.stdout
        lines = ok.stdout.splitlines()
        start = next(i for i, line in enumerate(lines) if 'start main shallow' in line)
        good = next(i for i, line in enumerate(lines) if line.endswith('all good'))
        assert start < good and 'succeeded' in lines[-1]

        bad = cli(*TRIGGER, '--branch', 'main', '--depth', 'deep', '--follow', '--json')
        assert bad.code == 1, bad.stderr
        failed = bad.json()
        assert failed['status'] == 'failed' and failed['exit_code'] == 3
        assert 'Idempotency key: ' in bad.stderr  # stdout stays parseable in --json mode

        retried = cli('runs', 'retry', failed['id'], '--depth', 'shallow', '--follow', '--json')
        assert retried.code == 0, retried.stderr
        run = retried.json()
        assert run['retry_of'] == failed['id'] and run['kind'] == 'retry' and run['status'] == 'succeeded'
        assert run['depth_level'] == 'shallow' and run['branch_name'] == 'main'
        # the line that says a run was made names the commit it runs (main's head, as the API's answer has it)
        assert run['commit_sha'] == failed['commit_sha'] and len(failed['commit_sha']) == 40
        assert f': proj main ({failed["commit_sha"][:7]}' in ok.stdout.splitlines()[1]

        listed = cli('runs', 'list', '--project', 'proj', '--kind', 'retry', '--json')
        assert listed.code == 0 and [r['id'] for r in listed.json()['items']] == [run['id']]
        table = cli('runs', 'list', '--project', 'proj')
        assert table.code == 0 and failed['id'] in table.stdout and run['id'] in table.stdout
        assert 'shallow/python' in table.stdout and 'Not shown' not in table.stdout  # 200 columns: every field

        # one project's runs at 80 columns: no PROJECT column (the same on every row), so DEPTH/FRAMEWORK fits
        narrow = run_cli(server.base_url, server.token, 'runs', 'list', '--project', 'proj', columns=80)
        header = narrow.stdout.splitlines()[0].split()
        assert header == ['RUN', 'STATUS', 'BRANCH', 'DEPTH/FRAMEWORK', 'CREATED']  # whole columns, not cut to "p…"
        assert all(len(line) <= 80 for line in narrow.stdout.splitlines())
        assert f'{run["id"]}  succeeded  main    shallow/python' in narrow.stdout
        assert 'Not shown, for the width: COMMIT, KIND, USER, TOOK (--json has every field)' in narrow.stdout
        # every project's runs: PROJECT stays, DEPTH/FRAMEWORK goes first
        every = run_cli(server.base_url, server.token, 'runs', 'list', columns=80)
        assert every.stdout.splitlines()[0].split() == ['RUN', 'STATUS', 'PROJECT', 'BRANCH', 'CREATED', 'TOOK']
        assert f'{run["id"]}  succeeded  proj' in every.stdout
        # piped (`| grep`, a file) with no width said: every column, every cell whole
        piped = run_cli(server.base_url, server.token, 'runs', 'list', columns=None)
        header = piped.stdout.splitlines()[0].split()
        assert header == [
            'RUN', 'STATUS', 'PROJECT', 'BRANCH', 'COMMIT', 'DEPTH/FRAMEWORK', 'KIND', 'USER', 'CREATED', 'TOOK'
        ]  # fmt: skip
        assert 'Not shown' not in piped.stdout and '…' not in piped.stdout
        assert f'{run["commit_sha"][:7]} main commit' in piped.stdout  # the commit's title beside its sha


def test_same_key_returns_the_same_run(settings_factory, repo_factory) -> None:
    with served(settings_factory, repo_factory) as (server, cli):
        args = (*TRIGGER, '--branch', 'main', '--depth', 'shallow', '--key', 'ci-build-1')
        first = cli(*args, '--json')
        again = cli(*args)
        assert first.code == 0 and again.code == 0, (first.stderr, again.stderr)
        run_id = first.json()['id']
        assert run_id in again.stdout and 'replayed' in again.stdout
        assert 'Idempotency key' not in again.stdout  # a given key is not "generated"
        with server.client() as client:
            assert [r['id'] for r in client.get('/api/runs').json()['items']] == [run_id]
        other = cli(*TRIGGER, '--branch', 'main', '--depth', 'deep', '--key', 'ci-build-1')
        assert other.code == 2 and 'idempotency_key_mismatch' in other.stderr  # same key, other request


def test_dropped_connection_is_resent_with_the_same_key_and_makes_one_run(settings_factory, repo_factory) -> None:
    with served(settings_factory, repo_factory) as (server, cli):
        proxy = DroppingProxy(server.port)
        try:
            result = cli(*TRIGGER, '--branch', 'main', '--depth', 'shallow', '--json', url=proxy.url)
        finally:
            proxy.close()
        assert result.code == 0, result.stderr
        assert len(proxy.dropped_requests) == 1 and b'POST /api/runs' in proxy.dropped_requests[0]
        assert 'Sending again with the same key' in result.stderr
        with server.services.engine.connect() as conn:
            ids = conn.execute(text('SELECT id FROM run')).scalars().all()
        assert ids == [result.json()['id']]  # the server made the run once; the CLI printed that run
        key = result.stderr.split('Idempotency key: ')[1].split()[0]
        assert key.encode() in proxy.dropped_requests[0] and result.json()['idempotency_key'] == key


def test_rate_limit_exits_3_with_the_wait_or_waits_with_wait(settings_factory, repo_factory) -> None:
    # the window outlasts the three refused triggers on a busy machine (3 s did not, once), and --wait waits it out
    with served(settings_factory, repo_factory, rate_limit_runs=1, rate_limit_window_seconds=10) as (server, cli):
        assert cli(*TRIGGER, '--branch', 'main', '--depth', 'shallow').code == 0
        refused = cli(*TRIGGER, '--branch', 'feature/x', '--depth', 'shallow')
        assert refused.code == 3
        assert 'rate_limited' in refused.stderr and 'Wait ' in refused.stderr and '--wait' in refused.stderr
        assert 'Correlation id: ' in refused.stderr
        as_json = cli(*TRIGGER, '--branch', 'feature/x', '--depth', 'shallow', '--json')
        assert as_json.code == 3 and as_json.json()['error'] == 'rate_limited'
        assert as_json.json()['retry_after_seconds'] >= 1

        waited = cli(*TRIGGER, '--branch', 'feature/x', '--depth', 'shallow', '--wait', '--json')
        assert waited.code == 0, waited.stderr
        assert 'Rate limited' in waited.stderr and waited.json()['branch_name'] == 'feature/x'
        with server.client() as client:
            assert len(client.get('/api/runs').json()['items']) == 2


def test_pr_lock_exits_3_naming_the_blocking_run_then_stop_and_logs(settings_factory, repo_factory) -> None:
    with served(settings_factory, repo_factory, global_run_cap=0) as (server, cli):
        first = cli(*TRIGGER, '--branch', 'main', '--depth', 'shallow', '--json')
        assert first.code == 0
        blocking = first.json()['id']
        refused = cli(*TRIGGER, '--branch', 'main', '--depth', 'deep')
        assert refused.code == 3
        assert 'pr_lock' in refused.stderr and 'Blocked by:' in refused.stderr
        assert f'{blocking}  queued' in refused.stderr and 'Correlation id: ' in refused.stderr

        queued = cli('runs', 'list', '--status', 'queued', '--json')
        assert [r['id'] for r in queued.json()['items']] == [blocking]
        stopped = cli('runs', 'stop', blocking)
        assert stopped.code == 0 and blocking in stopped.stdout
        logs = cli('runs', 'logs', blocking, '--follow')
        assert logs.code == 1 and 'stopped' in logs.stdout.splitlines()[-1]  # stopped is not a success
        again = cli('runs', 'stop', blocking)
        assert again.code == 3 and 'run_ended' in again.stderr


def test_logs_follow_ends_with_the_outcome_as_exit_code(settings_factory, repo_factory) -> None:
    with served(settings_factory, repo_factory) as (server, cli):
        good = cli(*TRIGGER, '--branch', 'main', '--depth', 'shallow', '--json').json()['id']
        followed = cli('runs', 'logs', good, '--follow')
        assert followed.code == 0, followed.stderr
        assert 'all good' in followed.stdout and 'succeeded' in followed.stdout.splitlines()[-1]

        events = cli('runs', 'logs', good, '--json')
        assert events.code == 0
        seqs = [e['seq'] for e in events.json()]
        assert seqs == list(range(1, len(seqs) + 1)) and any(e['text'] == 'all good' for e in events.json())

        bad = cli(*TRIGGER, '--branch', 'feature/x', '--depth', 'deep', '--json').json()['id']
        streamed = cli('runs', 'logs', bad, '--follow', '--json')
        assert streamed.code == 1
        texts = [e['text'] for e in streamed.json_lines()]
        assert 'boom' in texts and texts[-1].startswith('failed')

        shown = cli('runs', 'show', bad, '--json')
        assert shown.code == 0 and shown.json()['status'] == 'failed' and shown.json()['events']
        human = cli('runs', 'show', bad)
        assert human.code == 0 and 'feature/x' in human.stdout and 'boom' in human.stdout


def test_unknown_run_exits_4_with_the_correlation_id(settings_factory, repo_factory) -> None:
    with served(settings_factory, repo_factory) as (server, cli):
        for args in (
            ('runs', 'show', 'run_nope'),
            ('runs', 'logs', 'run_nope', '--follow'),
            ('runs', 'retry', 'run_nope'),
            ('projects', 'show', 'nope'),
        ):
            result = cli(*args)
            assert result.code == 4, (args, result.stderr)
            assert 'not_found' in result.stderr and 'Correlation id: ' in result.stderr
        bad_token = run_cli(server.base_url, 'not-a-token', 'runs', 'list')
        assert bad_token.code == 4 and 'unauthorized' in bad_token.stderr


def test_unreachable_server_exits_5_with_the_correlation_id() -> None:
    url = f'http://127.0.0.1:{free_port()}'
    result = run_cli(url, 'token', 'runs', 'list')
    assert result.code == 5
    assert url in result.stderr and 'Correlation id: ' in result.stderr
    as_json = run_cli(url, 'token', 'quota', '--json')
    assert as_json.code == 5 and as_json.json()['error'] == 'network' and as_json.json()['correlation_id']


def test_usage_errors_exit_2(settings_factory, repo_factory) -> None:
    with served(settings_factory, repo_factory) as (server, cli):
        missing = cli('runs', 'trigger', '--branch', 'main')
        assert missing.code == 2 and 'name the project' in missing.stderr
        for command in (('afk', 'on'), ('issues', 'list'), ('schedules', 'list'), ('secrets', 'list')):
            without = cli(*command)
            assert without.code == 2 and 'name the project' in without.stderr, command
        assert cli('afk', 'status', 'proj', '-p', 'other').code == 2
        two = cli('runs', 'trigger', 'proj', '--project', 'other')
        assert two.code == 2 and "'proj' and 'other'" in two.stderr
        invalid = cli(*TRIGGER, '--branch', 'no-such-branch', '--depth', 'shallow')
        assert invalid.code == 2 and 'no-such-branch' in invalid.stderr


def test_trigger_without_depth_or_framework_takes_the_projects_first_as_the_run_form_does(
    settings_factory, repo_factory
) -> None:
    with served(settings_factory, repo_factory) as (server, cli):
        with server.client() as client:
            project = client.get('/api/projects/proj').json()
        made = cli('runs', 'trigger', '--project', 'proj', '--branch', 'main', '--follow', '--json')
        assert made.code == 0, made.stderr  # followed to its end: the branch is free again (the PR lock)
        run = made.json()
        assert (run['depth_level'], run['target_framework']) == (
            project['depth_levels'][0],
            project['target_frameworks'][0],
        )
        # one given, the other defaulted
        deep = cli('runs', 'trigger', '--project', 'proj', '--branch', 'main', '--depth', 'deep', '--json')
        assert deep.code == 0 and deep.json()['depth_level'] == 'deep', deep.stderr
        unknown = cli('runs', 'trigger', '--project', 'nope', '--branch', 'main')
        assert unknown.code == 4 and 'nope' in unknown.stderr  # the project is named, with the usual exit code


def test_trigger_project_alone_runs_its_base_branch_as_the_run_form_preselects_it(
    settings_factory, repo_factory
) -> None:
    with served(settings_factory, repo_factory) as (server, cli):
        with server.client() as client:
            base = next(b['name'] for b in client.get('/api/projects/proj/branches').json() if b['is_base'])
        made = cli('runs', 'trigger', 'proj', '--json')  # `gh workflow run`-style: the project as the argument
        assert made.code == 0, made.stderr
        assert made.json()['project_id'] == 'proj' and made.json()['branch_name'] == base
        unknown = cli('runs', 'trigger', 'nope')
        assert unknown.code == 4 and 'nope' in unknown.stderr


def test_follow_falls_back_to_polling_without_the_event_stream(settings_factory, repo_factory, monkeypatch) -> None:
    from app.client import ApiError, RunboardClient

    async def no_stream(self, **_filters):  # noqa: ANN001, ANN003, ANN202
        raise ApiError(503, 'http_error', 'no event stream here')
        yield  # an async generator, as the real one

    monkeypatch.setattr(RunboardClient, 'events', no_stream)
    monkeypatch.setattr('app.cli.follow.POLL_SECONDS', 0.2)
    with served(settings_factory, repo_factory) as (server, cli):
        followed = cli(*TRIGGER, '--branch', 'main', '--depth', 'deep', '--follow')
        assert followed.code == 1 and 'boom' in followed.stdout and 'failed' in followed.stdout.splitlines()[-1]


def test_follow_says_once_that_live_updates_are_paused_and_when_they_resume(
    settings_factory, repo_factory, monkeypatch
) -> None:
    """A team server whose event listener lost Redis answers GET /events with 503 live_updates_paused: the follower
    says so in one line on stderr (not a traceback, not a silent stall), keeps reading the run, and says when the
    stream is back."""
    from app.client import ApiError

    real_events = RunboardClient.events
    refusals = [0]

    async def paused_twice(self, **filters):  # noqa: ANN001, ANN003, ANN202
        if refusals[0] < 2:
            refusals[0] += 1
            raise ApiError(
                503,
                'live_updates_paused',
                'Live updates are paused: this server cannot hear the other servers and workers.',
                body={'paused_since': '2024-05-01T14:03:12+00:00', 'retry_after_seconds': 1},
                headers={'retry-after': '1'},
            )
        async for event in real_events(self, **filters):
            yield event

    monkeypatch.setattr(RunboardClient, 'events', paused_twice)
    monkeypatch.setattr('app.cli.follow.POLL_SECONDS', 0.2)
    slow = shell_script('for i in 1 2 3 4 5 6 7 8 9 10; do echo "tick $i"; sleep 0.4; done')
    with served(settings_factory, repo_factory, branches={'slow': slow}) as (_, cli):
        followed = cli(*TRIGGER, '--branch', 'slow', '--depth', 'shallow', '--follow')
    assert followed.code == 0, followed.stderr
    assert refusals[0] == 2
    said = followed.stderr.splitlines()
    paused = [line for line in said if 'Live updates paused' in line]
    assert paused == [
        'Live updates paused: the server lost its connection to Redis (since 14:03:12 UTC). Still following: '
        'reading the run every 0.2 s until they resume.'
    ], said
    assert said.index(paused[0]) < said.index('Live updates resumed.')
    assert 'Traceback' not in followed.stderr
    ticks = [line.split()[-1] for line in followed.stdout.splitlines() if ' tick ' in line]
    assert ticks == [str(i) for i in range(1, 11)]  # read on while paused: nothing lost, nothing twice


def test_follow_rides_out_a_network_outage_without_losing_or_repeating_lines(settings_factory, repo_factory) -> None:
    slow = shell_script('for i in 1 2 3 4 5 6 7 8 9 10; do echo "tick $i"; sleep 0.4; done')
    with served(settings_factory, repo_factory, branches={'slow': slow}) as (server, cli):
        run_id = cli(*TRIGGER, '--branch', 'slow', '--depth', 'shallow', '--json').json()['id']
        # the outage starts once the follower has been sent tick 2, however long the CLI took to start
        proxy = DroppingProxy(server.port, drops=0, cut_on=b'tick 2', cut_seconds=1.5)
        try:
            followed = cli('runs', 'logs', run_id, '--follow', url=proxy.url)
        finally:
            proxy.close()
        assert followed.code == 0, followed.stderr
        assert proxy.cuts == 1 and 'reconnecting' in followed.stderr
        ticks = [line.split()[-1] for line in followed.stdout.splitlines() if ' tick ' in line]
        assert ticks == [str(i) for i in range(1, 11)]


def test_the_raw_log_is_the_output_exactly_as_printed(settings_factory, repo_factory) -> None:
    from tests.helpers.api import assert_problem

    with served(settings_factory, repo_factory) as (server, cli):
        run_id = cli(*TRIGGER, '--branch', 'main', '--depth', 'shallow', '--json').json()['id']
        assert cli('runs', 'logs', run_id, '--follow').code == 0
        raw = cli('runs', 'logs', run_id, '--raw')
        assert raw.code == 0 and raw.stdout == 'start main shallow\nall good\n'  # no status or stage lines
        with server.client() as client:
            reply = client.get(f'/api/runs/{run_id}/log', params={'timestamps': 'true'})
            assert reply.status_code == 200 and reply.headers['content-type'].startswith('text/plain')
            assert reply.headers['content-disposition'] == f'attachment; filename="{run_id}.log"'
            stamped = reply.text.splitlines()
            assert [line.split(' ', 1)[1] for line in stamped] == ['start main shallow', 'all good']
            assert all(line[:4].isdigit() and 'T' in line.split(' ', 1)[0] for line in stamped)
            assert_problem(client.get('/api/runs/run_nope/log'), 404, 'not_found')
        missing = cli('runs', 'logs', 'run_nope', '--raw')
        assert missing.code == 4 and 'not_found' in missing.stderr


def test_the_raw_log_followed_is_the_output_as_it_comes_and_exits_with_the_outcome(
    settings_factory, repo_factory, tmp_path
) -> None:  # noqa: ANN001
    """`runs logs RUN --raw --follow` (`> build.log`, a CI step): waits for the run to end, stdout the output lines
    exactly as `--raw` prints them afterwards, the exit code the outcome (1: failed); the outcome line on stderr."""
    gate = tmp_path / 'gates' / 'release'
    gate.parent.mkdir()
    gated = shell_script(
        f'echo "first \033[31mred\033[0m"\nwhile [ ! -f {gate} ]; do sleep 0.05; done\necho last\nexit 4'
    )
    with served(
        settings_factory, repo_factory, branches={'gated': gated}, sandbox_read_only_paths=str(gate.parent)
    ) as (server, cli):
        run_id = cli(*TRIGGER, '--branch', 'gated', '--depth', 'shallow', '--json').json()['id']

        def release_once_it_printed() -> None:
            try:
                with server.client() as client:
                    wait_for_output(client, run_id, 'first \x1b[31mred\x1b[0m')
            finally:
                gate.touch()

        releaser = threading.Thread(target=release_once_it_printed)
        releaser.start()
        try:
            followed = cli('runs', 'logs', run_id, '--raw', '--follow')
        finally:
            releaser.join()
            gate.touch()
        assert followed.code == 1, followed.stderr
        assert followed.stdout == 'first \x1b[31mred\x1b[0m\nlast\n'  # no status or stage lines, colours kept
        assert f'Run {run_id} failed' in followed.stderr and 'exit code 4' in followed.stderr
        assert cli('runs', 'logs', run_id, '--raw').stdout == followed.stdout

        ok = cli(*TRIGGER, '--branch', 'main', '--depth', 'shallow', '--json').json()['id']
        succeeded = cli('runs', 'logs', ok, '--raw', '--follow')
        assert succeeded.code == 0 and succeeded.stdout == 'start main shallow\nall good\n', succeeded.stderr
        assert cli('runs', 'logs', 'run_nope', '--raw', '--follow').code == 4


def test_trigger_var_gives_the_run_its_variables_and_runs_show_lists_them(settings_factory, repo_factory) -> None:
    branches = {'vars': shell_script('echo "target=$TARGET note=$NOTE"')}
    with served(settings_factory, repo_factory, branches=branches) as (_, cli):
        made = cli(*TRIGGER, '--branch', 'vars', '--var', 'TARGET=prod', '--var', 'NOTE=a b=c', '--follow', '--json')
        assert made.code == 0, made.stderr
        run = made.json()
        assert run['variables'] == {'NOTE': 'a b=c', 'TARGET': 'prod'}
        assert 'target=prod note=a b=c' in cli('runs', 'logs', run['id']).stdout  # in its command's environment
        shown = cli('runs', 'show', run['id'])
        assert shown.code == 0 and 'NOTE=a b=c' in shown.stdout and 'TARGET=prod' in shown.stdout
        # wrong in the terminal: exit 2 before anything is sent; refused by the server: its 422 names the field
        for pair in ('NOPE', '=1'):
            bad = cli(*TRIGGER, '--var', pair)
            assert bad.code == 2 and 'is not NAME=VALUE' in bad.stderr, bad.stderr
        twice = cli(*TRIGGER, '--var', 'A=1', '--var', 'A=2')
        assert twice.code == 2 and 'A is given twice' in twice.stderr
        refused = cli(*TRIGGER, '--var', 'RUNBOARD_RUN_ID=forged')
        assert refused.code == 2 and 'RUNBOARD_* names are the run' in refused.stderr, refused.stderr
        # --like: a new run like an ended one (a succeeded one too, which retry does not take), given values win
        like = cli('runs', 'trigger', '--like', run['id'], '--var', 'NOTE=changed', '--follow', '--json')
        assert like.code == 0, like.stderr
        again = like.json()
        assert again['id'] != run['id'] and (again['kind'], again['retry_of']) == ('manual', None)
        assert (again['project_id'], again['branch_name'], again['depth_level']) == ('proj', 'vars', run['depth_level'])
        assert again['variables'] == {'NOTE': 'changed', 'TARGET': 'prod'}
        assert 'target=prod note=changed' in cli('runs', 'logs', again['id']).stdout
        other = cli('runs', 'trigger', 'elsewhere', '--like', run['id'])
        assert other.code == 2 and 'is of project proj' in other.stderr, other.stderr
        assert cli('runs', 'trigger', '--like', 'run_nope').code == 4
        assert cli('runs', 'trigger', '--like', run['id'], '--matrix', 'depth=shallow').code == 2
        # a matrix gives them to each of its runs
        batch = cli(*TRIGGER, '--branch', 'vars', '--matrix', 'depth=shallow', '--var', 'TARGET=each', '--json')
        assert batch.code == 0, batch.stderr
        assert batch.json()['variables'] == {'TARGET': 'each'}
        for child in batch.json()['children']:
            assert cli('runs', 'show', child['run']['id'], '--json').json()['variables'] == {'TARGET': 'each'}


def test_a_mistyped_status_or_kind_is_a_usage_error_not_an_empty_list() -> None:
    """`runs list --status faild` once printed "No runs." and exited 0, which a script reads as "nothing failed".
    It is refused before anything is sent (no server here: exit 2, not 5), naming the values there are."""
    nowhere = f'http://127.0.0.1:{free_port()}'
    for args, says in [
        (('--status', 'faild'), "'faild' is not one of"),
        (('--status', 'failed,crashd'), "'crashd' is not one of"),
        (('--kind', 'manaul'), "'manaul' is not one of: manual, retry"),
    ]:
        refused = run_cli(nowhere, None, 'runs', 'list', *args, columns=None)
        assert refused.code == 2, (args, refused.stdout, refused.stderr)
        assert says in ' '.join(refused.stderr.replace('│', ' ').split()) and refused.stdout == ''


def test_a_piped_list_is_rows_only_and_the_next_page_hint_goes_to_stderr(settings_factory, repo_factory) -> None:
    """`runs list | awk 'NR>2 {print $1}' | xargs -n1 runboard runs retry` once read the `More: --cursor ID` line as
    a run; the hint goes to stderr, and its cursor reads the next page."""
    with served(settings_factory, repo_factory) as (server, cli):
        made = [cli(*TRIGGER, '--branch', branch, '--depth', 'shallow', '--json').json()['id'] for branch in BRANCHES]
        first = run_cli(server.base_url, server.token, 'runs', 'list', '-n', '1', columns=None)
        assert first.code == 0, first.stderr
        rows = first.stdout.splitlines()[2:]  # under the header and its rule
        assert [row.split()[0] for row in rows] == [made[-1]]
        assert f'More: --cursor {made[-1]}' in first.stderr and 'More' not in first.stdout
        rest = run_cli(server.base_url, server.token, 'runs', 'list', '-n', '1', '--cursor', made[-1], columns=None)
        assert [row.split()[0] for row in rest.stdout.splitlines()[2:]] == [made[0]]
        assert 'More' not in rest.stderr  # the last page says no more


def test_a_mistyped_project_is_not_found_not_an_empty_list(settings_factory, repo_factory) -> None:
    """`runs list -p PROJECT --json | jq '.items | length'` in a CI step once said 0 for a project that does not exist
    (or is another team's): exit 4, as `runs list --status faild` is exit 2; a project with no such runs is still an
    empty list."""
    with served(settings_factory, repo_factory) as (_server, cli):
        missing = cli('runs', 'list', '-p', 'porj', '-s', 'failed')
        assert missing.code == 4 and missing.stdout == ''
        assert (
            "project 'porj' not found (HTTP 404 not_found)" in missing.stderr and 'Correlation id: ' in missing.stderr
        )
        as_json = cli('runs', 'list', '-p', 'porj', '--json')
        assert as_json.code == 4 and as_json.json()['error'] == 'not_found'
        none = cli('runs', 'list', '-p', 'proj', '-s', 'failed', '--json')
        assert none.code == 0 and none.json() == {'items': [], 'next_cursor': None}
        assert cli('runs', 'list', '-p', 'proj').stdout.strip() == 'No runs.'


def test_ctrl_c_while_following_names_the_run_and_the_command_that_stops_it(
    settings_factory, repo_factory, monkeypatch
) -> None:
    """Ctrl-C during `runs logs --follow` or `runs trigger --follow` once said `runboard runs stop RUN_ID`, literally:
    the note now names the run it left going."""

    async def interrupted(self, run_id, **_page):  # noqa: ANN001, ANN003, ANN202
        raise KeyboardInterrupt  # as Ctrl-C lands while the timeline is read

    with served(settings_factory, repo_factory, global_run_cap=0) as (_server, cli):
        queued = cli(*TRIGGER, '--branch', 'main', '--depth', 'shallow', '--json').json()['id']
        monkeypatch.setattr(RunboardClient, 'run_events', interrupted)
        logs = cli('runs', 'logs', queued, '--follow')
        assert logs.code == 130, logs.stderr
        assert f'Run {queued} keeps going on the server; runboard runs stop {queued} stops it.' in logs.stderr
        followed = cli(*TRIGGER, '--branch', 'feature/x', '--depth', 'shallow', '--follow')
        made = followed.stdout.split('Run ')[1].split(':')[0]
        assert followed.code == 130 and made.startswith('run_') and made != queued, followed.stdout
        assert f'runboard runs stop {made} stops it.' in followed.stderr and 'RUN_ID' not in followed.stderr
