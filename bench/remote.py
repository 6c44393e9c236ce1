"""Remote repositories: how soon a branch pushed to the remote is in the picker, what a trigger costs on a
remote project next to a local one, and whether a hanging remote delays other projects. Prints figures;
asserts nothing.

    python bench/remote.py [--triggers 300] [--pushes 10]

Starts `python main.py` on SQLite (global cap 0: runs stay queued) and a `git daemon` on loopback serving a
bare repository. Creates project `local` on a path and `remote` on the git:// URL (mirrored), then:
(1) --pushes times: push a new branch, POST .../repository/refresh, GET .../branches until it is listed:
fetch-to-picker latency; (2) --triggers sequential POST /runs on each project (distinct branches, so no PR
lock): admission latency, local vs remote; (3) a third project whose remote accepts connections and never
answers gets a trigger naming an unknown branch (it fetches and hangs); meanwhile triggers on `local` are
timed again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trigger_api import ROOT, free_port, percentile, server_env  # noqa: E402

IDENT = ['-c', 'user.name=b', '-c', 'user.email=b@example.invalid', '-c', 'init.defaultBranch=main']


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(['git', *IDENT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def upstream(root: Path, branches: int) -> tuple[Path, Path]:
    bare, work = root / 'up.git', root / 'work'
    git('init', '-q', '--bare', str(bare))
    git('init', '-q', str(work))
    (work / 'run.sh').write_text('echo hi\n')
    git('add', '-A', cwd=work)
    git('commit', '-q', '-m', 'init', cwd=work)
    git('push', '-q', str(bare), 'HEAD:refs/heads/main', cwd=work)
    for n in range(branches):
        git('update-ref', f'refs/heads/b/{n:04d}', 'HEAD', cwd=bare)
    return bare, work


def figures(name: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    return (
        f'{name}: n={len(ordered)} p50 {percentile(ordered, 0.5) * 1000:.1f} ms '
        f'p90 {percentile(ordered, 0.9) * 1000:.1f} ms p99 {percentile(ordered, 0.99) * 1000:.1f} ms '
        f'max {ordered[-1] * 1000:.1f} ms'
    )


def timed_triggers(client: httpx.Client, project: str, count: int, offset: int) -> list[float]:
    latencies = []
    for n in range(count):
        body = {
            'project_id': project,
            'branch': f'b/{(offset + n) % 1000:04d}',
            'depth_level': 'shallow',
            'target_framework': 'python',
        }
        started = time.perf_counter()
        reply = client.post('/api/runs', json=body)
        latencies.append(time.perf_counter() - started)
        if reply.status_code not in (201, 409):
            raise SystemExit(f'trigger failed: {reply.status_code} {reply.text}')
    return latencies


def silent_listener() -> tuple[socket.socket, int]:
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(64)
    return listener, listener.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument('--triggers', type=int, default=300)
    parser.add_argument('--pushes', type=int, default=10)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix='rb-remote-'))
    bare, work = upstream(root, 1000)
    daemon_port, port = free_port(), free_port()
    daemon = subprocess.Popen(
        [
            'git',
            'daemon',
            '--export-all',
            f'--base-path={root}',
            f'--port={daemon_port}',
            '--reuseaddr',
            '--listen=127.0.0.1',
            str(root),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    data = root / 'data'
    env = {
        **server_env(data),
        'RUNBOARD_MIRROR_REFRESH_MIN_SECONDS': '0',  # every refresh fetches: the figure is the fetch itself
        'RUNBOARD_GIT_TIMEOUT_SECONDS': '10',
    }
    server = subprocess.Popen(
        [sys.executable, 'main.py', '--port', str(port), '--data-dir', str(data)],
        cwd=ROOT,
        env=env,
        stdout=open(root / 'server.log', 'wb'),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    listener, silent_port = silent_listener()
    try:
        url = f'http://127.0.0.1:{port}'
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(url + '/api/health', timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit('server did not start')
            time.sleep(0.2)
        token = json.loads((data / 'credentials.json').read_text())['token']
        client = httpx.Client(base_url=url, headers={'Authorization': f'Bearer {token}'}, timeout=60)
        remote_url = f'git://127.0.0.1:{daemon_port}/up.git'
        for project, repository in (('local', str(bare)), ('remote', remote_url), ('hanging', remote_url)):
            body = {'id': project, 'name': project, 'repository': repository, 'command': ['sh', 'run.sh']}
            started = time.perf_counter()
            reply = client.post('/api/projects', json=body)
            reply.raise_for_status()
            print(f'project {project} created in {(time.perf_counter() - started) * 1000:.0f} ms')

        picker = []
        for n in range(args.pushes):
            name = f'pushed/{n}'
            git('push', '-q', str(bare), f'HEAD:refs/heads/{name}', cwd=work)
            started = time.perf_counter()
            client.post('/api/projects/remote/repository/refresh').raise_for_status()
            while name not in {
                b['name'] for b in client.get('/api/projects/remote/branches', params={'q': name}).json()
            }:
                time.sleep(0.01)
            picker.append(time.perf_counter() - started)
        print(figures('push -> refresh -> in the picker', picker))

        print(figures('POST /runs, local project ', timed_triggers(client, 'local', args.triggers, 0)))
        print(figures('POST /runs, remote project', timed_triggers(client, 'remote', args.triggers, 300)))

        subprocess.run(
            [
                sys.executable,
                '-c',
                (
                    'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); '
                    'c.execute("UPDATE project SET repository=? WHERE id=\'hanging\'", (sys.argv[2],)); c.commit()'
                ),
                str(data / 'runboard.db'),
                f'http://127.0.0.1:{silent_port}/up.git',
            ],
            check=True,
        )
        time.sleep(2.5)  # the admitter's project cache (2 s) forgets the old repository
        hung: dict[str, float] = {}

        def hang() -> None:
            started = time.perf_counter()
            body = {
                'project_id': 'hanging',
                'branch': 'not/there',
                'depth_level': 'shallow',
                'target_framework': 'python',
            }
            status = client.post('/api/runs', json=body).status_code
            hung['seconds'], hung['status'] = time.perf_counter() - started, status

        thread = threading.Thread(target=hang)
        thread.start()
        time.sleep(0.3)
        during = timed_triggers(client, 'local', 50, 700)
        thread.join()
        print(figures('POST /runs, local project while another remote hangs', during))
        print(
            f"the hanging project's trigger answered {hung['status']} after {hung['seconds']:.1f} s (git timeout 10 s)"
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        os.killpg(daemon.pid, signal.SIGTERM)
        listener.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
