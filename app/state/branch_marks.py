"""The Run form's busy-branch marks, kept true by the live stream: a run that starts on a branch marks it
busy, a run that ends frees the branch it held. Pure (the page re-reads the server's marks after a change,
for locks held by other projects on the same repository)."""

from __future__ import annotations

from typing import Any

ACTIVE = ('queued', 'running', 'stopping')


def marks_after_run(branches: list[dict[str, Any]], run: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The branch list with `run`'s effect on its busy marks, or None when nothing changes."""
    changed = False
    updated = []
    for branch in branches:
        holder = branch.get('busy_run_id')
        if holder == run.get('id') and run.get('status') not in ACTIVE:
            branch = {**branch, 'busy_run_id': None}
            changed = True
        elif holder is None and branch.get('name') == run.get('branch_name') and run.get('status') in ACTIVE:
            branch = {**branch, 'busy_run_id': run.get('id')}
            changed = True
        updated.append(branch)
    return updated if changed else None


def busy_holder(branches: list[dict[str, Any]], chosen: str | None) -> str | None:
    """The active run that holds the chosen branch (its lock refuses another run of the branch until it ends), as
    the marks have it; None when the branch is free or not in the list."""
    for branch in branches:
        if branch.get('name') == chosen:
            return branch.get('busy_run_id') or None
    return None
