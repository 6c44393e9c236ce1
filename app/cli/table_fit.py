"""Which columns of a table fit a terminal: pure, so the choice is tested as a table (tests/unit/test_table_fit.py).

A column squeezed below its widest cell is cut to a letter or two ("de…", "ma…"), which says nothing; a
narrow terminal is better served by fewer whole columns, and the rest is one flag away (--json)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

GAP = 2  # the CLI's tables put two spaces between columns (rich's padding, collapsed)


def fitting_columns(widths: dict[str, int], available: int, drop_order: Sequence[str]) -> list[str]:
    """The columns to show, in their order: every one when their widest cells fit in `available` characters,
    else without the first of `drop_order`, then the second, and so on. Columns not in `drop_order` always
    stay, even when they alone are too wide (the terminal then wraps the line)."""
    shown = list(widths)
    for dropped in (None, *drop_order):
        if dropped is not None and dropped in shown:
            shown.remove(dropped)
        if sum(widths[name] for name in shown) + GAP * (len(shown) - 1) <= available:
            break
    return shown


def column_widths(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> dict[str, int]:
    """Each column's widest cell, its header included."""
    widths = {header: len(header) for header in headers}
    for row in rows:
        for header, cell in zip(headers, row, strict=True):
            widths[header] = max(widths[header], len(cell))
    return widths
