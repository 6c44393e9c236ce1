"""A run cannot reach the server (or the worker) that runs it: its environment is the documented one, its
/proc is its own, the data dir is out of sight; project secrets reach it and are masked in everything stored;
a `network: none` project has no network. On the real engine in this process and on a real `runboard worker`."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app.services.execution import sandbox
from tests.helpers.runs import create_project, outputs, shell_script, trigger, wait_for_status
from tests.helpers.servers import api_server
from tests.helpers.workers import runboard_worker, wait_for_worker

SERVER_SECRET = 'from-the-servers-environment-7f3a'
SECRET = 's3cr3t-value-42'
DOCUMENTED = {
    *('PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'TERM', 'TMPDIR', 'CI', 'RUNBOARD', 'PYTHONUNBUFFERED'),
    *('RUNBOARD_RUN_ID', 'RUNBOARD_PROJECT_ID', 'RUNBOARD_BRANCH', 'RUNBOARD_DEPTH_LEVEL', 'RUNBOARD_COMMIT'),
    *('RUNBOARD_TARGET_FRAMEWORK', 'RUNBOARD_RUN_KIND', 'RUNBOARD_WORKSPACE', 'RUNBOARD_ARTIFACTS_DIR'),
    'RUNBOARD_SUMMARY',
    'RUNBOARD_CACHE_DIR',
    'DEPLOY_TOKEN',  # the project's secret
    'PWD',  # the shell's own
    'SHLVL',
    '_',
}

PROBE = r"""
echo "ENV $(env | cut -d= -f1 | sort | tr '\n' ' ')"
for f in /proc/1/environ /proc/$PPID/environ; do
  if tr '\0' '\n' < "$f" | grep -q AWS_SECRET_ACCESS_KEY; then echo "LEAK $f"; fi
done
for p in {paths}; do
  if [ -e "$p" ]; then echo "SEES $p"; fi
done
echo "DATA $(ls -A {data} | tr '\n' ' ')"
echo "WORKTREES $(ls -A {data}/worktrees | tr '\n' ' ')"
echo "UPLOADS $(ls -A {data}/artifact-uploads | tr '\n' ' ')"
echo "CACHES $(ls -A {data}/caches | tr '\n' ' ')"
echo "PROCS $(cat /proc/[0-9]*/comm 2>/dev/null | sort -u | tr '\n' ' ')"
"""


@contextlib.contextmanager
def executing(settings, executor: str, tmp_path: Path):  # noqa: ANN001, ANN202
    """The server (executing runs itself, or handing them to a real worker process)."""
    with contextlib.ExitStack() as stack:
        if executor == 'celery':
            stack.enter_context(runboard_worker(settings, tmp_path / 'worker-data'))
        server = stack.enter_context(api_server(settings))
        yield server


# workers share the team database, bus and broker: the celery executor runs on the team backend
@pytest.mark.parametrize(('backend', 'executor'), [('local', 'local'), ('team', 'local'), ('team', 'celery')])
def test_a_run_sees_only_its_own_environment_processes_and_files(
    backend, executor, settings_factory, repo_factory, tmp_path, monkeypatch
) -> None:  # noqa: ANN001
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', SERVER_SECRET)  # the server's (and the worker's) environment
    settings = settings_factory(executor=executor, secret_key=Fernet.generate_key().decode())
    worker_data = tmp_path / 'worker-data'
    data = worker_data if executor == 'celery' else settings.data_dir
    private = [
        settings.data_dir / 'secret.key',
        settings.data_dir / 'credentials.json',
        settings.sqlite_path,
        worker_data / 'secret.key',
        worker_data / 'runboard.db',
    ]
    probe = PROBE.replace('{paths}', ' '.join(str(p) for p in private)).replace('{data}', str(data))
    repo = repo_factory({'main': shell_script(probe)})
    with executing(settings, executor, tmp_path) as server, server.client() as client:
        create_project(client, repo)
        client.put('/api/projects/proj/secrets/DEPLOY_TOKEN', json={'value': SECRET}).raise_for_status()
        done = wait_for_status(client, trigger(client).json()['id'], timeout=60)
    lines = outputs(done)
    assert done['status'] == 'succeeded', (lines, done.get('error'))
    names = set(next(line for line in lines if line.startswith('ENV ')).split()[1:])
    assert names <= DOCUMENTED, names - DOCUMENTED
    assert 'DEPLOY_TOKEN' in names and 'AWS_SECRET_ACCESS_KEY' not in names
    assert [line for line in lines if line.startswith(('LEAK', 'SEES'))] == []
    # of the data dir, only the mount points of the run's own checkout (and its borrowed git objects), of its
    # artifacts directory and of its project's cache exist
    shown = set(next(line for line in lines if line.startswith('DATA')).split()[1:])
    assert shown <= {'worktrees', 'mirrors', 'artifact-uploads', 'caches'}
    assert next(line for line in lines if line.startswith('WORKTREES')).split()[1:] == [done['id']]
    assert next(line for line in lines if line.startswith('UPLOADS')).split()[1:] == [done['id']]
    assert next(line for line in lines if line.startswith('CACHES')).split()[1:] == ['proj']
    processes = set(next(line for line in lines if line.startswith('PROCS')).split()[1:])
    assert processes <= {'bwrap', 'sh', 'cat', 'sort', 'tr'}, processes  # no server, worker or other run
    assert SERVER_SECRET not in str(done)


SPILL = r"""
echo "$DEPLOY_TOKEN"
echo "token=$DEPLOY_TOKEN; done"
first=$(printf '%s' "$DEPLOY_TOKEN" | cut -c1-7); rest=$(printf '%s' "$DEPLOY_TOKEN" | cut -c8-)
printf '%s' "$first"; sleep 0.5; printf '%s\n' "$rest"
echo "::stage:: deploy with $DEPLOY_TOKEN"
echo "::add-mask::hunter2hunter2"
echo "later hunter2hunter2"
exit 3
"""


def test_a_project_secret_is_masked_wherever_output_is_stored(
    backend, settings_factory, repo_factory, tmp_path
) -> None:  # noqa: ANN001
    settings = settings_factory()
    repo = repo_factory({'main': shell_script(SPILL)})
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        put = client.put('/api/projects/proj/secrets/DEPLOY_TOKEN', json={'value': SECRET})
        assert put.status_code == 201, put.text
        listed = client.get('/api/projects/proj/secrets').json()
        assert [(s['name'], s['secret'], s.get('value')) for s in listed] == [('DEPLOY_TOKEN', True, None)]
        run_id = trigger(client).json()['id']
        done = wait_for_status(client, run_id, timeout=60)
        log = client.get(f'/api/runs/{run_id}/log').text
        stages = client.get(f'/api/runs/{run_id}').json().get('stages') or []
        audit = client.get('/api/audit').text
    assert done['status'] == 'failed'
    assert outputs(done)[:3] == ['***', 'token=***; done', '***']  # alone, inside a line, in two writes
    assert 'later ***' in outputs(done)
    assert any(e['type'] == 'stage' and e['text'] == 'deploy with ***' for e in done['events'])
    for text in (str(done), log, str(stages), audit):
        assert SECRET not in text and 'hunter2hunter2' not in text
    assert 'DEPLOY_TOKEN' in audit  # the name is audited, never the value
    _assert_stored_only_encrypted(settings, backend)


def _assert_stored_only_encrypted(settings, backend: str) -> None:  # noqa: ANN001
    if backend == 'local':
        stored = b''.join(p.read_bytes() for p in settings.data_dir.glob('runboard.db*'))
    else:
        schema = settings.database_url.split('search_path%3D')[1]
        stored = subprocess.run(
            ['pg_dump', '-h', '127.0.0.1', '-U', 'postgres', '-n', schema, 'test'],
            capture_output=True,
            check=True,
        ).stdout
        assert b'project_variable' in stored  # the dump is of the right schema
    assert b'DEPLOY_TOKEN' in stored
    assert SECRET.encode() not in stored and b'hunter2hunter2' not in stored


def test_a_project_without_network_cannot_connect_to_loopback(settings_factory, repo_factory) -> None:  # noqa: ANN001
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen()
    port = listener.getsockname()[1]
    script = (
        f'if python3 -c "import socket; socket.create_connection((\'127.0.0.1\', {port}), timeout=3)"; '
        'then echo CONNECTED; else echo REFUSED; fi'
    )
    repo = repo_factory({'main': shell_script(script)})
    try:
        with api_server(settings_factory()) as server, server.client() as client:
            create_project(client, repo, project_id='open')
            create_project(client, repo, project_id='closed', network='none')
            open_run = wait_for_status(client, trigger(client, 'open').json()['id'], timeout=60)
            closed_run = wait_for_status(client, trigger(client, 'closed').json()['id'], timeout=60)
    finally:
        listener.close()
    assert 'CONNECTED' in outputs(open_run)  # the default network reaches the host
    assert 'REFUSED' in outputs(closed_run)


def test_where_bwrap_cannot_run_team_mode_refuses_and_local_mode_runs_loudly(
    backend, settings_factory, repo_factory, monkeypatch
) -> None:  # noqa: ANN001
    monkeypatch.setattr(sandbox, 'bwrap_problem', lambda bwrap=None: 'bwrap is not installed')
    repo = repo_factory({'main': shell_script('echo ran')})
    with api_server(settings_factory()) as server, server.client() as client:
        about = client.get('/api/about').json()
        create_project(client, repo)
        done = wait_for_status(client, trigger(client).json()['id'], timeout=60)
    if backend == 'team':
        assert about['sandbox'] == 'refused' and 'RUNBOARD_SANDBOX=off' in about['sandbox_warning']
        assert done['status'] == 'failed' and outputs(done) == []
        assert 'bwrap is not installed' in done['error'] and 'RUNBOARD_SANDBOX=off' in done['error']
    else:
        assert about['sandbox'] == 'unsandboxed' and 'not sandboxed' in about['sandbox_warning']
        assert done['status'] == 'succeeded' and outputs(done) == ['ran']


def test_sandbox_off_runs_unsandboxed_with_the_warning_in_about(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('echo "ns $(cat /proc/1/comm)"')})
    with api_server(settings_factory(sandbox='off')) as server, server.client() as client:
        about = client.get('/api/about').json()
        create_project(client, repo)
        done = wait_for_status(client, trigger(client).json()['id'], timeout=60)
    assert about['sandbox'] == 'unsandboxed' and 'RUNBOARD_SANDBOX=off' in about['sandbox_warning']
    assert done['status'] == 'succeeded' and outputs(done) != ['ns bwrap']  # the host's PID 1, not a sandbox's


def test_a_program_outside_the_sandbox_fails_at_launch_with_the_reason(settings_factory, repo_factory) -> None:  # noqa: ANN001
    repo = repo_factory({'main': shell_script('echo never')})
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo, command=[sys.executable, '-c', 'print(1)'])  # Runboard's own virtualenv
        done = wait_for_status(client, trigger(client).json()['id'], timeout=60)
    assert done['status'] == 'failed' and outputs(done) == []
    assert 'outside what the run sandbox shows' in done['error'] and 'RUNBOARD_SANDBOX_READ_ONLY_PATHS' in done['error']


FAKE_BWRAP = '#!/bin/sh\necho "ESCAPED as $0, outside the sandbox"\n'
INSIDE = r"""
echo "inside $(hostname)"
echo "CMDLINE $(tr '\0' ' ' < /proc/1/cmdline | grep -c "$DEPLOY_TOKEN")"
"""


def test_a_run_given_its_own_path_still_starts_inside_the_sandbox(settings_factory, repo_factory) -> None:  # noqa: ANN001
    """A run's PATH (or LD_PRELOAD) is its command's, never the one bwrap itself is found on or loaded with: a
    checkout holding a `bwrap` of its own and a PATH starting with `.` would otherwise run it outside."""
    repo = repo_factory({'main': shell_script(INSIDE)})
    (repo / 'bwrap').write_text(FAKE_BWRAP)
    (repo / 'bwrap').chmod(0o755)
    ident = ['-c', 'user.name=t', '-c', 'user.email=t@example.invalid']
    subprocess.run(['git', *ident, 'add', 'bwrap'], cwd=repo, check=True)
    subprocess.run(['git', *ident, 'commit', '-q', '-m', 'a bwrap of its own'], cwd=repo, check=True)
    with api_server(settings_factory()) as server, server.client() as client:
        create_project(client, repo)
        client.put('/api/projects/proj/secrets/DEPLOY_TOKEN', json={'value': SECRET}).raise_for_status()
        body = {'project_id': 'proj', 'branch': 'main', 'depth_level': 'shallow', 'target_framework': 'python'}
        answer = client.post('/api/runs', json={**body, 'variables': {'PATH': '.:/usr/bin:/bin'}})
        assert answer.status_code == 201, answer.text
        done = wait_for_status(client, answer.json()['id'], timeout=60)
    lines = outputs(done)
    assert done['status'] == 'succeeded', (lines, done.get('error'))
    assert not any('ESCAPED' in line for line in lines), lines
    assert f'inside {sandbox.SANDBOX_HOSTNAME}' in lines
    assert 'CMDLINE 0' in lines  # the environment reached bwrap through a descriptor, not its command line


def test_a_read_only_path_holding_the_data_dir_shows_none_of_it(settings_factory, repo_factory, tmp_path) -> None:  # noqa: ANN001
    """RUNBOARD_SANDBOX_READ_ONLY_PATHS naming a directory that holds the data dir (a toolchain under ~/.local,
    where the data dir lives by default) shows the toolchain, not the database or secret.key."""
    (tmp_path / 'toolchain').mkdir()
    (tmp_path / 'toolchain' / 'tool.txt').write_text('a tool\n')
    settings = settings_factory(sandbox_read_only_paths=str(tmp_path))
    data = settings.data_dir
    script = f'cat {tmp_path}/toolchain/tool.txt; echo "DATA $(ls -A {data} | tr "\\n" " ")"; cat {data}/secret.key'
    repo = repo_factory({'main': shell_script(script)})
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo)
        done = wait_for_status(client, trigger(client).json()['id'], timeout=60)
    lines = outputs(done)
    assert 'a tool' in lines, (lines, done.get('error'))
    shown = set(next(line for line in lines if line.startswith('DATA')).split()[1:])
    assert shown <= {'worktrees', 'mirrors', 'artifact-uploads', 'caches'}, shown
    assert done['status'] == 'failed'  # cat secret.key: no such file


@pytest.mark.parametrize('backend', ['team'])
def test_under_celery_about_says_how_the_workers_run_them(backend, settings_factory, tmp_path) -> None:  # noqa: ANN001
    """The runs execute on the workers, each sandboxed by its own environment: /api/about (the dashboard's banner,
    the chip, `runboard status`) says the worst of the live workers', naming the worker, not this server's."""
    settings = settings_factory(executor='celery')
    with contextlib.ExitStack() as stack:
        stack.enter_context(runboard_worker(settings, tmp_path / 'sandboxed'))
        server = stack.enter_context(api_server(settings))
        client = stack.enter_context(server.client())
        wait_for_worker(client, 'sandboxed')
        assert client.get('/api/about').json()['sandbox'] == 'sandboxed'
        stack.enter_context(runboard_worker(settings.model_copy(update={'sandbox': 'off'}), tmp_path / 'bare'))
        wait_for_worker(client, 'bare')
        about = client.get('/api/about').json()
    assert about['sandbox'] == 'unsandboxed'
    assert about['sandbox_warning'].startswith('worker bare@') and 'RUNBOARD_SANDBOX=off' in about['sandbox_warning']
    assert about['limits'] == 'each worker its own (the Workers page)'
