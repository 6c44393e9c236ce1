"""EnvProvenance: what the header chip says about where a page's data comes from. Pure.

Inputs: this UI's own build, the server's GET /about answer (None when it could not be read), the API
address when the UI talks to a remote server, and whether the tab's live stream is up (None: no stream on
this page), and whether the server's live updates are paused (its event listener lost Redis: the page is
connected, but may show old data until they resume). Red beats amber: a page that cannot hear the server may be
showing old data; amber says the UI and the server are different builds, or that its live updates are paused."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from app.build_info import Build

Level = Literal['ok', 'amber', 'red']
SANDBOX_WORDS = {
    'sandboxed': 'sandboxed (bubblewrap)',
    'unsandboxed': 'NOT sandboxed: they can read this server',
    'refused': 'refused: the sandbox cannot start here',
}


@dataclass(frozen=True)
class Provenance:
    text: str  # the chip (short: it sits in the header, also at 360 px)
    level: Level
    facts: list[tuple[str, str]]  # the details, one (name, value) per line
    short: str = ''  # the chip on a phone: the state or mode, and what is wrong, whole (the menu has the rest)

    @property
    def summary(self) -> str:
        """One sentence for screen readers and the chip's accessible name."""
        return '; '.join(f'{name}: {value}' for name, value in self.facts)


def _label(version: str, commit: str | None) -> str:
    return f'{version} ({commit})' if commit else version


def provenance(
    *, ui: Build, about: dict[str, Any] | None, server_url: str | None, connected: bool | None, paused: bool = False
) -> Provenance:
    where = urlsplit(server_url).netloc if server_url else None
    if about is None:
        facts = [('server', where or 'this process'), ('state', 'not answering'), ('UI version', ui.label)]
        return Provenance(f'{where or "server"} · not answering', 'red', facts, 'not answering')
    server = _label(about['version'], about.get('commit'))
    skew = about['version'] != ui.version or (bool(about.get('commit') and ui.commit) and about['commit'] != ui.commit)
    you = about.get('you') or {}
    facts = [
        ('mode', about['mode']),
        ('server', where or 'this process'),
        ('server version', server),
        ('UI version', ui.label + (' (differs from the server)' if skew else '')),
        ('database', about['database']),
        ('executor', about['executor']),
        ('runs', SANDBOX_WORDS.get(about.get('sandbox', ''), 'sandbox unknown')),
        ('run limits', about.get('limits', 'none')),  # docs/security.md: each run's memory, processes, CPU
        ('you', f'{you.get("name", "?")} ({you.get("role", "?")})'),
    ]
    parts = [about['mode']]
    if where:
        parts.append(where)
    parts.append(f'UI {ui.version} ≠ server {about["version"]}' if skew and about['version'] != ui.version else server)
    if skew and about['version'] == ui.version:
        parts.append('UI build differs')
    parts.append(you.get('role', '?'))
    sandboxed = about.get('sandbox', 'sandboxed') == 'sandboxed'
    if not sandboxed:  # the norm goes unsaid in the chip (its details say it); the exception is loud
        parts.append('runs NOT sandboxed')
    paused = paused and connected is not False  # offline says more
    level: Level = 'red' if connected is False else 'amber' if skew or not sandboxed or paused else 'ok'
    if connected is False:
        facts.insert(0, ('live updates', 'disconnected: reconnecting'))
        parts.insert(0, 'offline')
    elif paused:
        facts.insert(0, ('live updates', 'paused: the server lost its connection to Redis'))
        parts.insert(0, 'live updates paused')
    warnings = ['NOT sandboxed'] * (not sandboxed) + ['build differs'] * skew
    first = 'offline' if connected is False else 'paused' if paused else about['mode']
    short = ' · '.join([first, *warnings])
    return Provenance(' · '.join(parts), level, facts, short)
