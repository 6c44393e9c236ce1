"""Runboard installed the way Python apps are installed: the wheel is built from this tree, installed into a fresh
virtualenv, and `runboard serve` is started from there, outside the repository. Every browser file answers 200,
the demo project's page and a run's live log render in Chromium with no page error.

The dependencies are not installed from an index: CI stays fast and works offline. The fresh venv gets the wheel
alone (`--no-deps`) and reaches the project .venv's dependencies through a `.pth` file naming that venv's
site-packages. Only the site-packages folder itself goes on sys.path, not the `.pth` files inside it, so this
checkout's editable install (its import finder) stays out: Runboard's own files (code, assets, migrations, demo)
come from the wheel, which the test checks (`app.__file__` under the fresh venv)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import site
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.helpers.e2e import wait_form_ready
from tests.helpers.servers import ROOT, clean_env, free_port

pytestmark = pytest.mark.e2e

# what the build reads: pyproject.toml names the rest (README as the long description, LICENSE, the packages)
BUILD_INPUTS = ['pyproject.toml', 'README.md', 'LICENSE', 'app', 'assets']


@pytest.fixture(scope='module')
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel of this tree installed (and the project .venv's dependencies)."""
    base = tmp_path_factory.mktemp('installed')
    source = base / 'source'  # a copy: no stale build/lib of an earlier build in the tree can slip in
    source.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns('__pycache__'))
        else:
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps', '-q', '-w', str(base / 'dist'), str(source)],
        check=True,
        cwd=base,
        timeout=600,
    )
    (wheel,) = (base / 'dist').glob('runboard-*.whl')
    fresh = base / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(fresh)], check=True, timeout=120)
    python = fresh / 'bin' / 'python'
    subprocess.run(
        [sys.executable, '-m', 'pip', '--python', str(python), 'install', '-q', '--no-deps', '--no-index', str(wheel)],
        check=True,
        cwd=base,
        timeout=300,
    )
    fresh_site = Path(_run(python, 'import sysconfig; print(sysconfig.get_paths()["purelib"])', cwd=base))
    (fresh_site / 'runboard-test-deps.pth').write_text(''.join(f'{path}\n' for path in site.getsitepackages()))
    return fresh


def _environment() -> dict[str, str]:
    env = clean_env()
    for name in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV'):  # nothing may point the venv back at this tree
        env.pop(name, None)
    return env


def _run(python: Path, code: str, *, cwd: Path) -> str:
    done = subprocess.run(
        [str(python), '-c', code], cwd=cwd, env=_environment(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@contextlib.contextmanager
def serving(venv: Path, data_dir: Path) -> Iterator[str]:
    """`runboard serve` of the fresh venv, on a free port and its own data dir, started outside the repository;
    yields the link a person opens: the one printed at start (`Runboard is ready at ...`) when the server asks
    for its local sign-in token (app/local_sign_in.py), else its address."""
    port = free_port()
    data_dir.mkdir(parents=True)
    log_path = data_dir / 'server.log'
    log = open(log_path, 'ab')  # noqa: SIM115 (closed below, after the process)
    process = subprocess.Popen(
        [str(venv / 'bin' / 'runboard'), 'serve', '--port', str(port), '--data-dir', str(data_dir)],
        cwd=data_dir,
        env=_environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f'http://127.0.0.1:{port}'
    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + '/api/health/ready', timeout=2).status_code == 200:
                    break
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        link = url + '/'
        if (data_dir / 'sign-in-token').exists():  # the line comes once uvicorn listens: maybe just after ready
            while not (printed := re.findall(r'Runboard is ready at (\S+)', log_path.read_text())):
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
            link = printed[-1]
            assert link.startswith(url + '/'), link
        yield link
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # anything the server left behind (run processes)
        log.close()


def test_the_code_and_its_files_come_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    found = json.loads(
        _run(
            venv / 'bin' / 'python',
            'import json, app; from app import package_files as f; from app.build_info import this_build; '
            'print(json.dumps([app.__file__, str(f.assets_dir()), str(f.migrations_dir()), str(f.demo_pipeline()), '
            'this_build().version]))',
            cwd=tmp_path,
        )
    )
    *paths, version = found
    for path in paths:
        assert Path(path).is_relative_to(venv), path
    assert (Path(found[2]) / 'script.py.mako').is_file() and (Path(found[2]) / 'env.py').is_file()
    assert version == '0.1.0'
    printed = subprocess.run(
        [str(venv / 'bin' / 'runboard'), '--version'], cwd=tmp_path, env=_environment(), capture_output=True, text=True
    )
    assert printed.returncode == 0 and printed.stdout.strip() == f'runboard {version}'
    licence = _run(
        venv / 'bin' / 'python',
        'from importlib.metadata import metadata; print(metadata("runboard")["License-Expression"])',
        cwd=tmp_path,
    )
    assert licence == 'MIT'


def test_installed_runboard_serves_its_assets_the_project_page_and_a_live_log(
    venv: Path, page: Page, tmp_path: Path
) -> None:
    errors: list[str] = []
    failed: list[str] = []
    page.on('pageerror', lambda error: errors.append(str(error)))
    page.on('response', lambda reply: failed.append(f'{reply.status} {reply.url}') if reply.status >= 400 else None)
    data = tmp_path / 'data'
    with serving(venv, data) as link:
        url = link[: link.index('/', len('http://'))]
        assert page.goto(link) is not None  # signed in (when the server asks for it): the context keeps the cookie
        shipped = sorted((venv / 'lib').glob('python3*/site-packages/app/assets/*.[jc]s*'))
        assert {path.name for path in shipped} >= {'logview.js', 'logview.css', 'runboard.css', 'live-time.js'}
        for path in shipped:
            reply = page.request.get(f'{url}/assets/{path.name}')  # as the signed-in browser asks for it
            assert reply.status == 200 and reply.body() == path.read_bytes(), path.name

        token = json.loads((data / 'credentials.json').read_text())['token']
        with httpx.Client(base_url=url, headers={'Authorization': f'Bearer {token}'}, timeout=30) as api:
            api.put('/api/projects/demo/variables/DEMO_PACE', json={'value': '0.2'}).raise_for_status()  # less waiting

        answer = page.goto(url + '/projects/demo')
        assert answer is not None and answer.status == 200
        expect(page.get_by_test_id('branch')).to_have_value(re.compile('^main'))
        wait_form_ready(page)
        page.get_by_test_id('run').click()
        page.wait_for_url(re.compile(r'/runs/run_'))
        output = page.get_by_test_id('output')
        expect(output).to_contain_text('install', timeout=20_000)  # live, before the run ends
        expect(page.get_by_test_id('run-header').locator('[data-status=succeeded]')).to_be_visible(timeout=30_000)
        expect(output).to_contain_text('pipeline finished: all stages passed')

        page.reload()  # the finished run's page drawn afresh: its log from the server, not only the live stream
        expect(page.get_by_test_id('output')).to_contain_text('pipeline finished: all stages passed')
    assert errors == []
    assert failed == []
