"""Pure: an edit made on what a form read, so that the server refuses it (409 edit_conflict) when someone else
changed the thing since, instead of the last save silently undoing theirs. What the edit sends (the version it was
made on), whether a refusal is that one, the words a form says for it (beside a Reload), and how a page keeps its
form's version when another control of the same page saved a change of its own. The webhook dialog, the project
Settings page and the schedule dialog use these alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.core.errors import EDIT_CONFLICT


def is_edit_conflict(status: int, error: str) -> bool:
    """Whether a refusal says the thing was changed by someone else since it was read (Reload offered)."""
    return status == 409 and error == EDIT_CONFLICT


def edit_body(read: Mapping[str, Any], changes: Mapping[str, Any], key: str = 'version') -> dict[str, Any]:
    """The PATCH of an edit: what it changes, and `read`'s version (`key`: `version` of a webhook rule, `edit_version`
    of a project or a schedule), `read` being the thing as the form opened with it or read it again (Reload). A
    server before versions answers none, and then the edit goes as it was."""
    return {**changes, **({key: read[key]} if read.get(key) is not None else {})}


def conflict_text(name: str, what: str) -> str:
    """What a form says above its buttons for an edit_conflict: whose change, that nothing was saved, what Reload
    does. `what`: the kind of thing ('webhook', 'project', 'schedule')."""
    return (
        f'Could not save “{name}”: someone else changed this {what} since you opened it (another operator, or '
        'another tab). Nothing was saved. Reload shows it as it is now; then make your change again.'
    )


def after_own_save(read: Mapping[str, Any], answer: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """What a form holds as read after another control of its page saved a change of its own (`answer`: the server's
    answer to that save): the answer, when the version moved by that change alone, so the form's next Save is not
    refused for a change made on its own page; else `read` as it was, since someone else changed the thing too and the
    form's Save must be refused (the form's own fields and the control's are not the same, so the answer's are the
    ones the form read)."""
    before, now = read.get(key), answer.get(key)
    if before is None or now is None or now - before not in (0, 1):
        return read
    return answer
