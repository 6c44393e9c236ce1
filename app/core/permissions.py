"""Who may do what, where the server and the UI both read it: the server refuses by it (403), and a page offers a
control, and advice to use it, by the same answer."""

from __future__ import annotations

OPERATOR = 'operator'  # app.models.Role.operator (the models sit above core)


def may_control_afk(role: str | None) -> bool:
    """Pure: may a person of this role switch a project's AFK loop on or off and Reset it (a loop paused after
    repeated failures, or held by its daily cost cap or a launch failure)? Operators only: a builder's is a 403."""
    return role == OPERATOR
