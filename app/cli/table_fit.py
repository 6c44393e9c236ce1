"""Which columns of a table fit a terminal: pure, so the choice is tested as a table (tests/unit/test_table_fit.py).

A column squeezed below its widest cell is cut to a letter or two ("de…", "ma…"), which says nothing; a
narrow terminal is better served by fewer whole columns, and the rest is one flag away (--json)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

GAP = 2  # the CLI's tables put two spaces between columns (rich's padding, collapsed)


def fitting_columns(
    widths: dict[str, int],
    available: int,
    drop_order: Sequence[str],
    narrowest: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """The columns to show, in their order, each with its width: every one when their widest cells fit in
    `available` characters, else without the first of `drop_order`, then the second, and so on; then the dropped
    ones that fit again after all, the last dropped first, in the room the kept ones leave at their widest (so a
    narrow column low in the order is not lost for a wide one above it). A column in `narrowest` may be cut down
    to that width (a commit's title after its sha) and takes the room the others leave, up to its widest cell.
    Columns not in `drop_order` always stay, even when they alone are too wide (the terminal then wraps the
    line)."""
    narrowest = narrowest or {}

    def least(name: str) -> int:
        return min(widths[name], narrowest.get(name, widths[name]))

    def fits(names: list[str], width: Callable[[str], int] = least) -> bool:
        return sum(width(name) for name in names) + GAP * (len(names) - 1) <= available

    shown = list(widths)
    dropped: list[str] = []
    for name in drop_order:
        if fits(shown):
            break
        if name in shown:
            shown.remove(name)
            dropped.append(name)
    for name in reversed(dropped):  # only in room the kept ones leave at their widest: never for a cut commit
        if fits([*shown, name], widths.__getitem__):
            shown.append(name)
    shown.sort(key=list(widths).index)
    room = available - sum(least(name) for name in shown) - GAP * (len(shown) - 1)
    fitted = {}
    for name in shown:
        extra = min(max(room, 0), widths[name] - least(name))
        fitted[name] = least(name) + extra
        room -= extra
    return fitted


def column_widths(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> dict[str, int]:
    """Each column's widest cell, its header included."""
    widths = {header: len(header) for header in headers}
    for row in rows:
        for header, cell in zip(headers, row, strict=True):
            widths[header] = max(widths[header], len(cell))
    return widths
