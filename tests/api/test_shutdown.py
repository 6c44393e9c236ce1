"""Stopping a server with open event streams (a tab's live updates): SIGTERM ends the streams at once, so the
process exits without waiting out uvicorn's grace and without a traceback of a cancelled answer."""

from __future__ import annotations

import json
import signal
import threading

import httpx

from tests.helpers.servers import app_process


def test_sigterm_with_open_event_streams_exits_cleanly(tmp_path) -> None:  # noqa: ANN001
    data = tmp_path / 'data'
    ended: list[str] = []
    with app_process(data, env={'RUNBOARD_DEMO': 'false'}) as app:
        token = json.loads((data / 'credentials.json').read_text())['token']
        opened = threading.Barrier(4)

        def follow() -> None:
            headers = {'Authorization': f'Bearer {token}'}
            with httpx.stream('GET', app['url'] + '/api/events', headers=headers, timeout=60) as stream:
                opened.wait(timeout=30)
                for _ in stream.iter_lines():
                    pass
            ended.append('ended')  # the server closed the stream (not a read timeout)

        followers = [threading.Thread(target=follow, daemon=True) for _ in range(3)]
        for follower in followers:
            follower.start()
        opened.wait(timeout=30)
        app['process'].send_signal(signal.SIGTERM)
        app['process'].wait(timeout=30)
        for follower in followers:
            follower.join(timeout=30)
    assert ended == ['ended'] * 3
    log = open(app['log'], encoding='utf-8', errors='replace').read()
    assert 'Traceback' not in log and 'timeout graceful shutdown exceeded' not in log, log[-3000:]
