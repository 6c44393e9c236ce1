"""Which due deliveries a server claims: oldest due first, at most `limit`, and per rule no more than its share
minus what is already under way there for that rule."""

from __future__ import annotations

import pytest

from app.services.notifications.fair_share import DueDelivery, to_claim


def _due(*rules: str) -> list[DueDelivery]:
    return [DueDelivery(f'd{n}', rule) for n, rule in enumerate(rules)]


@pytest.mark.parametrize(
    'due, in_flight, limit, per_rule, claimed',
    [
        (_due(), {}, 16, 4, []),
        (_due('a', 'b', 'a'), {}, 16, 4, ['d0', 'd1', 'd2']),  # all of it, in due order
        # a hanging rule's backlog takes its share; the other rule's delivery, due later, is still claimed
        (_due('hang', 'hang', 'hang', 'hang', 'hang', 'hang', 'ok'), {}, 16, 4, ['d0', 'd1', 'd2', 'd3', 'd6']),
        # the hanging rule already holds its share here: nothing more of it
        (_due('hang', 'hang', 'ok'), {'hang': 4}, 12, 4, ['d2']),
        (_due('hang', 'hang', 'ok'), {'hang': 3}, 12, 4, ['d0', 'd2']),  # room for one more
        (_due('a', 'b', 'c', 'd'), {}, 2, 4, ['d0', 'd1']),  # the server's own cap first
        (_due('a', 'a', 'b', 'b'), {'a': 1}, 16, 2, ['d0', 'd2', 'd3']),
        (_due('a', 'a', 'a'), {'b': 4}, 16, 1, ['d0']),  # another rule's attempts do not count against this one
    ],
)
def test_to_claim(
    due: list[DueDelivery], in_flight: dict[str, int], limit: int, per_rule: int, claimed: list[str]
) -> None:
    assert to_claim(due, in_flight, limit=limit, per_rule=per_rule) == claimed
