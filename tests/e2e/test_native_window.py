"""The desktop window: `python main.py --native` opens a real window titled "Dashboard · Runboard" (under Xvfb)
showing the dashboard served by its own embedded server, signed in through the local sign-in link."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers.e2e import SCREENSHOTS
from tests.helpers.servers import ROOT, app_process

pytestmark = pytest.mark.e2e


@pytest.fixture
def display():  # noqa: ANN201
    missing = [
        f'{tool} (Debian package {package})'
        for tool, package in (('Xvfb', 'xvfb'), ('xwininfo', 'x11-utils'))
        if shutil.which(tool) is None
    ]
    try:
        import webview  # noqa: F401
    except ImportError:
        missing.append("pywebview (pip install -e '.[native]')")
    if missing:
        if os.environ.get('CI'):
            pytest.fail(
                f'{", ".join(missing)} needed for the native window test '
                '(scripts/test.sh installs them; see scripts/doctor.sh)'
            )
        pytest.skip(f'{", ".join(missing)} not installed')
    # Xvfb picks a display number no other X server holds and writes it to the pipe once it accepts
    # connections: no fixed number two test processes could share, no guessing how long it takes to start.
    read_end, write_end = os.pipe()
    screen = subprocess.Popen(
        ['Xvfb', '-displayfd', str(write_end), '-screen', '0', '1280x900x24', '-nolisten', 'tcp'],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write_end,),
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as announced:
            ready, _, _ = select.select([announced], [], [], 60)
            number = announced.readline().strip() if ready else ''
        assert number.isdigit(), f'Xvfb did not start (exit code {screen.poll()})'
        yield f':{number}'
    finally:
        screen.terminate()
        screen.wait(10)


def window_titles(display: str) -> str:
    return subprocess.run(
        ['xwininfo', '-root', '-tree'], env={**os.environ, 'DISPLAY': display}, capture_output=True, text=True
    ).stdout


def test_native_window_opens_and_shows_the_dashboard(display: str, tmp_path) -> None:  # noqa: ANN001
    with app_process(tmp_path / 'data', args=['--native'], env={'DISPLAY': display, 'QT_QPA_PLATFORM': 'xcb'}) as app:
        deadline = time.monotonic() + 60
        while not re.search(r'"Dashboard · Runboard"', window_titles(display)):  # the window shows the page's title
            assert app['process'].poll() is None, 'the app exited instead of opening its window'
            assert time.monotonic() < deadline, 'no window titled Runboard appeared'
            time.sleep(0.5)
        # the window opened the sign-in link (no extra step): without its cookie the dashboard is not served
        refused = httpx.get(app['url'] + '/', headers={'Accept': 'text/html'}, timeout=10)
        assert refused.status_code == 401 and 'Dashboard' not in refused.text
        page = httpx.get(app['url'] + '/', headers={'Accept': 'text/html'}, cookies=app['cookies'], timeout=10)
        assert page.status_code == 200 and '<title>Dashboard · Runboard</title>' in page.text
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / 'native-window.png'
        while (colours := grab_screen(display, shot)) < 8:  # the window has painted the dashboard
            assert time.monotonic() < deadline + 30, f'the window stayed blank ({colours} colours)'
            time.sleep(1)
        # SIGTERM (a service manager's stop) takes the window with the server, not left on "Connection lost"
        app['process'].send_signal(signal.SIGTERM)
        app['process'].wait(timeout=30)
        gone = time.monotonic() + 30
        while 'Runboard' in window_titles(display):
            assert time.monotonic() < gone, 'the window stayed open after the server stopped'
            time.sleep(0.5)
    log = Path(app['log']).read_text(errors='replace')
    assert 'GTK cannot be loaded' not in log and 'Traceback' not in log, log[-3000:]


def grab_screen(display: str, path: Path) -> int:
    """Qt's own screen grab in a child process (no ImageMagick); the number of distinct colours seen."""
    grabbed = subprocess.run(
        [sys.executable, '-m', 'tests.e2e.x11_grab', str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, 'DISPLAY': display, 'QT_QPA_PLATFORM': 'xcb'},
    )
    assert grabbed.returncode == 0, grabbed.stderr
    return int(grabbed.stdout.strip() or 0)
