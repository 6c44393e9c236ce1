"""What the EnvProvenance chip says (table)."""

from __future__ import annotations

import pytest

from app.build_info import Build
from app.state.provenance import provenance

UI = Build('0.2.0', 'abc123def456')
ABOUT = {
    'version': '0.2.0',
    'commit': 'abc123def456',
    'mode': 'local',
    'database': 'sqlite',
    'redis': False,
    'executor': 'local',
    'sandbox': 'sandboxed',
    'you': {'name': 'local', 'role': 'operator'},
}
TEAM = {**ABOUT, 'mode': 'team', 'database': 'postgresql', 'you': {'name': 'ann', 'role': 'builder'}}


@pytest.mark.parametrize(
    'about, server_url, connected, text, level, short',
    [
        (ABOUT, None, True, 'local · 0.2.0 (abc123def456) · operator', 'ok', 'local'),
        (ABOUT, None, None, 'local · 0.2.0 (abc123def456) · operator', 'ok', 'local'),  # a page without a live stream
        (
            TEAM,
            'https://runs.example.com:8412',
            True,
            'team · runs.example.com:8412 · 0.2.0 (abc123def456) · builder',
            'ok',
            'team',
        ),
        # another server version: amber, and the chip says both
        (
            {**TEAM, 'version': '0.3.0'},
            'http://t:1',
            True,
            'team · t:1 · UI 0.2.0 ≠ server 0.3.0 · builder',
            'amber',
            'team · build differs',
        ),
        # the same version from another commit
        (
            {**ABOUT, 'commit': 'fff000fff000'},
            None,
            True,
            'local · 0.2.0 (fff000fff000) · UI build differs · operator',
            'amber',
            'local · build differs',
        ),
        # a commit unknown on one side is no skew
        ({**ABOUT, 'commit': None}, None, True, 'local · 0.2.0 · operator', 'ok', 'local'),
        # the live stream dropped: red beats amber
        (
            {**ABOUT, 'version': '0.3.0'},
            None,
            False,
            'offline · local · UI 0.2.0 ≠ server 0.3.0 · operator',
            'red',
            'offline · build differs',
        ),
        (None, 'http://t:1', None, 't:1 · not answering', 'red', 'not answering'),
        # runs that can read the server: amber, and the chip says so
        (
            {**ABOUT, 'sandbox': 'unsandboxed'},
            None,
            True,
            'local · 0.2.0 (abc123def456) · operator · runs NOT sandboxed',
            'amber',
            'local · NOT sandboxed',
        ),
        (
            {**TEAM, 'sandbox': 'refused'},
            None,
            True,
            'team · 0.2.0 (abc123def456) · builder · runs NOT sandboxed',
            'amber',
            'team · NOT sandboxed',
        ),
    ],
)
def test_the_chip(
    about: dict | None, server_url: str | None, connected: bool | None, text: str, level: str, short: str
) -> None:
    chip = provenance(ui=UI, about=about, server_url=server_url, connected=connected)
    assert (chip.text, chip.level, chip.short) == (text, level, short)


@pytest.mark.parametrize(
    'connected, text, level, short',
    [
        # the server answered that its live updates are paused (its listener lost Redis): the page is connected, its
        # data may be stale: amber, and the chip says which, not "offline"
        (True, 'live updates paused · team · 0.2.0 (abc123def456) · builder', 'amber', 'paused'),
        # the stream dropped too: offline says more
        (False, 'offline · team · 0.2.0 (abc123def456) · builder', 'red', 'offline'),
    ],
)
def test_the_chip_while_live_updates_are_paused(connected: bool, text: str, level: str, short: str) -> None:
    chip = provenance(ui=UI, about=TEAM, server_url=None, connected=connected, paused=True)
    assert (chip.text, chip.level, chip.short) == (text, level, short)
    assert chip.facts[0] == (
        ('live updates', 'paused: the server lost its connection to Redis')
        if connected
        else ('live updates', 'disconnected: reconnecting')
    )


def test_the_details_name_every_fact() -> None:
    about = {**TEAM, 'version': '0.3.0', 'limits': 'memory 4.0 GiB, 4096 processes'}
    chip = provenance(ui=UI, about=about, server_url='http://t:1', connected=True)
    assert dict(chip.facts) == {
        'mode': 'team',
        'server': 't:1',
        'server version': '0.3.0 (abc123def456)',
        'UI version': '0.2.0 (abc123def456) (differs from the server)',
        'database': 'postgresql',
        'executor': 'local',
        'runs': 'sandboxed (bubblewrap)',
        'run limits': 'memory 4.0 GiB, 4096 processes',
        'you': 'ann (builder)',
    }
    assert chip.summary.startswith('mode: team; server: t:1')
