"""Showing user text (branch names, issue titles, project names) safely."""

from __future__ import annotations

# Bidirectional controls: embeddings, overrides and isolates, and the implicit marks. In a branch name they
# can reverse the rest of a row ("main\u202e..." shows its tail backwards), so the UI shows them as text.
BIDI_CONTROLS = {
    chr(c): f'[U+{c:04X}]' for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)
}
_TABLE = str.maketrans(BIDI_CONTROLS)


def shown(text: str | None) -> str:
    """Pure: `text` with every bidirectional control made visible ('[U+202E]'), so it cannot reorder what
    surrounds it; everything else unchanged."""
    return (text or '').translate(_TABLE)
