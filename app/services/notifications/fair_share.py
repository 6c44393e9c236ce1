"""Pure: which due deliveries a server claims, so that one rule's receiver cannot take every slot. Each server has
IN_FLIGHT_CAP attempts under way at most, and at most PER_RULE_IN_FLIGHT of them for one rule: a receiver that
hangs holds its rule's few slots for up to the timeout while every other rule's due deliveries are still claimed
(docs/notifications.md: a slow receiver delays only its own rule)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

IN_FLIGHT_CAP = 16  # attempts one server has under way at once
# Four: one run's end raises up to three events per rule (run.failed, issue.parked, project.auto_paused), so a burst
# still goes out together; a healthy rule's backlog drains four at a time; and three hanging receivers at once hold
# 12 of the 16 slots, leaving 4 for every other rule.
PER_RULE_IN_FLIGHT = 4


@dataclass(frozen=True)
class DueDelivery:
    id: str
    rule_id: str


def to_claim(
    due: Sequence[DueDelivery], in_flight_by_rule: Mapping[str, int], *, limit: int, per_rule: int
) -> list[str]:
    """The ids to claim from `due` (oldest due first), keeping its order: at most `limit` in all, and for each rule
    no more than `per_rule` minus what this server already has under way for it."""
    taken: Counter[str] = Counter()
    chosen: list[str] = []
    for delivery in due:
        if len(chosen) >= limit:
            break
        if in_flight_by_rule.get(delivery.rule_id, 0) + taken[delivery.rule_id] >= per_rule:
            continue
        taken[delivery.rule_id] += 1
        chosen.append(delivery.id)
    return chosen
