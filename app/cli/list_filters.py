"""Pure CLI checks of `runs list --status / --kind` before anything is sent. No I/O.

The API answers an unknown status or kind with an empty list (the UI keeps a mistyped filter from a bookmark and
shows that nothing matches it). A script has no one to read that: `runs list --status faild` printing "No runs."
with exit 0 reads as "nothing failed". So the CLI refuses a value it does not know as a usage error naming the ones
it takes, as `gh run list --status` does."""

from __future__ import annotations

import typer

from app.models.vocabulary import AWAITING_APPROVAL, RunKind, RunStatus

LISTED_STATUSES = (*(status.value for status in RunStatus), AWAITING_APPROVAL)
LISTED_KINDS = tuple(kind.value for kind in RunKind)


def statuses_to_list(given: list[str] | None) -> list[str]:
    """`--status` as given (repeated, comma-separated, or both), each a known status; exit 2 naming the unknown."""
    statuses = [status.strip() for item in given or [] for status in item.split(',') if status.strip()]
    _refuse_unknown(statuses, LISTED_STATUSES, option='--status')
    return statuses


def kind_to_list(given: str | None) -> str | None:
    """`--kind` as given, a known kind (empty: any, as `--kind "$KIND"` with KIND unset); exit 2 naming the ones
    there are."""
    if not given:
        return None
    _refuse_unknown([given], LISTED_KINDS, option='--kind')
    return given


def _refuse_unknown(values: list[str], known: tuple[str, ...], *, option: str) -> None:
    unknown = [value for value in values if value not in known]
    if unknown:
        raise typer.BadParameter(
            f'{", ".join(repr(value) for value in unknown)} is not one of: {", ".join(known)}', param_hint=option
        )
