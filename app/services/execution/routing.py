"""Runner labels (executor=celery), pure: which Celery queue a run is published to and which queues a
worker consumes. A run whose project says `runs_on: [gpu, linux]` goes to the queue named by that label
set; a worker holding labels L consumes the plain queue and the queue of every non-empty subset of L, so
it takes exactly the runs whose labels it holds all of (as GitHub's runs-on).

Queue names carry the deployment's namespace (its redis_prefix) unless it is the default, so deployments that
share a broker never take each other's runs (a worker would find no such run in its database and drop it)."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

DEFAULT_NAMESPACE = 'runboard'  # Settings.redis_prefix's default
QUEUE = 'runboard.runs'  # runs with no labels: any worker (of the default namespace)


def base_queue(namespace: str = DEFAULT_NAMESPACE) -> str:
    return QUEUE if namespace == DEFAULT_NAMESPACE else f'{namespace}.runs'


def queue_for(runs_on: Iterable[str], namespace: str = DEFAULT_NAMESPACE) -> str:
    labels = sorted(set(runs_on))
    base = base_queue(namespace)
    return f'{base}.{"+".join(labels)}' if labels else base


def queues_served(labels: Iterable[str], namespace: str = DEFAULT_NAMESPACE) -> list[str]:
    held = sorted(set(labels))
    subsets = [combo for size in range(1, len(held) + 1) for combo in combinations(held, size)]
    return [base_queue(namespace)] + [queue_for(subset, namespace) for subset in subsets]


def can_serve(worker_labels: Iterable[str], runs_on: Iterable[str]) -> bool:
    return set(runs_on) <= set(worker_labels)
