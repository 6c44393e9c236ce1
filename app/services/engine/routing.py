"""Runner labels (executor=celery), pure: which Celery queue a run is published to and which queues a
worker consumes. A run whose project says `runs_on: [gpu, linux]` goes to the queue named by that label
set; a worker holding labels L consumes the plain queue and the queue of every non-empty subset of L, so
it takes exactly the runs whose labels it holds all of (as GitHub's runs-on)."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

QUEUE = 'runboard.runs'  # runs with no labels: any worker


def queue_for(runs_on: Iterable[str]) -> str:
    labels = sorted(set(runs_on))
    return f'{QUEUE}.{"+".join(labels)}' if labels else QUEUE


def queues_served(labels: Iterable[str]) -> list[str]:
    held = sorted(set(labels))
    subsets = [combo for size in range(1, len(held) + 1) for combo in combinations(held, size)]
    return [QUEUE] + [queue_for(subset) for subset in subsets]


def can_serve(worker_labels: Iterable[str], runs_on: Iterable[str]) -> bool:
    return set(runs_on) <= set(worker_labels)
