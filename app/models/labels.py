"""Runner labels (a project's `runs_on`, a worker's `--labels`): what a valid label set is."""

from __future__ import annotations

import re
from collections.abc import Iterable

LABEL = re.compile(r'[a-z0-9][a-z0-9._-]{0,39}')
MAX_LABELS = 6  # a worker consumes one Celery queue per subset of its labels


def normalise_labels(labels: Iterable[str]) -> list[str]:
    """Sorted, distinct, validated; ValueError with the reason a person can act on."""
    found = sorted({label.strip().lower() for label in labels if label.strip()})
    for label in found:
        if not LABEL.fullmatch(label):
            raise ValueError(
                f'label {label!r} must be 1-40 characters: lowercase letters, digits, ".", "_" or "-", '
                'starting with a letter or digit'
            )
    if len(found) > MAX_LABELS:
        raise ValueError(f'at most {MAX_LABELS} labels')
    return found
