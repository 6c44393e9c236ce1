"""Pure decisions about matrix batches (no I/O): which children a matrix makes, whether the matrix is valid for
the project, each child's derived idempotency key, and what a batch's children add up to."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from app.core.errors import Refusal
from app.models import MAX_COMBINATIONS
from app.services.runs import admission

Cell = tuple[str, str]  # (depth_level, target_framework)
AXES = (('depth_level', 'depth level'), ('target_framework', 'target framework'))


def cells(depths: Sequence[str], frameworks: Sequence[str]) -> list[Cell]:
    """One child per combination, depth-major, in the order the matrix lists them."""
    return [(depth, framework) for depth in depths for framework in frameworks]


def matrix_refusal(
    matrix: Mapping[str, Sequence[str]], *, allowed: Mapping[str, Sequence[str]], cap: int = MAX_COMBINATIONS
) -> Refusal | None:
    """Why a matrix cannot be triggered on this project (a 422), or None. Each axis lists 1+ distinct values
    the project allows; the combinations are at most `cap`."""
    for axis, words in AXES:
        values = list(matrix.get(axis) or [])
        field = f'matrix.{axis}'
        if not values:
            return Refusal(422, 'validation', f'matrix.{axis} needs at least one {words}.', field=field)
        twice = [value for value, count in Counter(values).items() if count > 1]
        if twice:
            return Refusal(422, 'validation', f'matrix.{axis} lists {twice[0]!r} more than once.', field=field)
        for value in values:
            refusal = admission.validate_choice(value, list(allowed[axis]), field)
            if refusal:
                return refusal
    count = len(matrix['depth_level']) * len(matrix['target_framework'])
    if count > cap:
        return Refusal(
            422,
            'validation',
            f'The matrix makes {count} runs; a batch makes at most {cap}. Split it into several batches.',
            field='matrix',
        )
    return None


def batch_fingerprint(
    *, project_id: str, branch: str, matrix: Mapping[str, Sequence[str]], mode: str, variables: Mapping[str, str]
) -> str:
    """The request a batch key stands for: the same key with another body is refused (422). Variables count only
    when given, so a batch without them keeps the fingerprint it had before they existed."""
    body: dict[str, object] = {
        'project_id': project_id,
        'branch': branch,
        'depth_level': list(matrix['depth_level']),
        'target_framework': list(matrix['target_framework']),
        'mode': mode,
    }
    if variables:
        body['variables'] = dict(sorted(variables.items()))
    return admission.fingerprint(body)


def child_key(batch_key: str, cell: Cell) -> str:
    """The child's own Idempotency-Key (scope: the same user): a resend of the batch replays the children it
    admitted and admits only the missing ones. At most 6 + 32 + 1 + 64 + 1 + 64 characters (under 255)."""
    digest = hashlib.sha256(batch_key.encode()).hexdigest()[:32]
    return f'batch:{digest}:{cell[0]}/{cell[1]}'


def problem_of(status: int, error: str, detail: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A refused child's problem, as its answer (and the batch row) keep it."""
    extra = extra or {}
    return {
        'status': status,
        'error': error,
        'detail': detail,
        'retry_after': extra.get('retry_after_seconds'),
        'blocking_runs': list(extra.get('blocking_runs') or []),
    }


def withheld(refused: int) -> dict[str, Any]:
    """The problem of an all-or-nothing batch's child that would have been admitted: not created either."""
    return problem_of(
        409,
        'sibling_refused',
        f'Not created: the batch is all-or-nothing and {refused} of its children '
        f'{"was" if refused == 1 else "were"} refused.',
    )


def batch_status(*, admitted: int, refused: int, pending: int) -> str:
    """admitting while children wait to be tried; then admitted (all), refused (none), or partial."""
    if pending:
        return 'admitting'
    if not refused:
        return 'admitted'
    return 'refused' if not admitted else 'partial'


def summary(outcomes: Iterable[str]) -> dict[str, int]:
    """Children by outcome: total, admitted, refused, pending."""
    by_outcome = Counter(outcomes)
    return {'total': sum(by_outcome.values()), **{o: by_outcome.get(o, 0) for o in ('admitted', 'refused', 'pending')}}


def retry_after(problems: Iterable[dict[str, Any] | None]) -> int | None:
    """When a resend may admit more: the longest wait a refused child names (None: none names one)."""
    waits = [p['retry_after'] for p in problems if p and p.get('retry_after')]
    return max(waits) if waits else None
