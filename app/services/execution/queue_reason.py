"""Why a queued run is still queued, pure: the sentence shown on its row and timeline."""

from __future__ import annotations

from dataclasses import dataclass

from app.services.execution.routing import can_serve


@dataclass(frozen=True)
class WorkerCapacity:
    labels: tuple[str, ...]
    slots: int
    busy: int
    live: bool
    draining: bool


def _plural(n: int, word: str) -> str:
    return f'{n} {word}' if n == 1 else f'{n} {word}s'


def waiting_reason(
    *,
    executor: str,
    runs_on: list[str],
    workers: list[WorkerCapacity],
    running: int,
    global_cap: int,
) -> str:
    if executor != 'celery':
        if running >= global_cap:
            return f'waiting for a free run slot ({running} of {global_cap} running)'
        return 'starting'
    labels = ', '.join(runs_on)
    with_labels = f' with labels {labels}' if runs_on else ''
    servers = [w for w in workers if w.live and not w.draining and can_serve(w.labels, runs_on)]
    if not servers:
        if any(w.live and w.draining and can_serve(w.labels, runs_on) for w in workers):
            return f'waiting for a worker{with_labels}: every one that could take it is draining'
        return f'waiting for a worker{with_labels}' + ('' if runs_on else ' (none is up)')
    slots = sum(w.slots for w in servers)
    busy = sum(min(w.busy, w.slots) for w in servers)
    if busy >= slots:
        return f'waiting for a free slot: {busy} of {slots} busy on {_plural(len(servers), "worker")}{with_labels}'
    return f'handed to {_plural(len(servers), "worker")}{with_labels}, not taken yet'
