"""What Runboard keeps of a run's files is masked as its log is (docs/security.md, "What is masked besides the log"):
the test results read from its JUnit XML (names, messages, traces, output: junit.py), its summary, the names of the
files it left, and the previews of its text files (their first PREVIEW_BYTES, as the Artifacts tab shows them). The
masking is the run's own (execution.masking.Masker: its project's secrets and the `::add-mask::` values its log
declared, the cap on those included), applied when the run's files are kept, before anything is stored: the values
themselves are never stored, so nothing could mask them later. The files stay as the run wrote them (as GitHub's
artifacts do): a download is the run's own bytes. Pure: no I/O."""

from __future__ import annotations

import codecs
from typing import Protocol


class Masks(Protocol):
    """How a run's text is masked (execution.masking.Masker is one)."""

    def mask(self, line: str) -> str: ...

    def mask_cut(self, line: str) -> str: ...

    def __bool__(self) -> bool: ...  # false: nothing to mask


class NoMasks:
    """A run with nothing to mask (and the tests of the parts that do not mask)."""

    def mask(self, line: str) -> str:
        return line

    def mask_cut(self, line: str) -> str:
        return line

    def __bool__(self) -> bool:
        return False


PREVIEW_BYTES = 64 * 1024  # a text file is previewed on its run's page up to this much
# what the Artifacts tab previews as text (HTML opens in its sandbox, as the file itself: like a download)
PREVIEW_TYPES = ('text/', 'application/json', 'application/xml')

NAME_MASKED = 'its name holds a value masked in this run (a secret or an ::add-mask:: value): not kept'


def masked_name(path: str, masks: Masks) -> str | None:
    """The name to list a file by when its name holds a masked value (the file is then not kept: its name is how it
    is downloaded, and would show the value); None when the name holds none."""
    shown = masks.mask(path)
    return shown if shown != path else None


def is_previewed(content_type: str) -> bool:
    return content_type.startswith(PREVIEW_TYPES) and content_type != 'text/html'


def masked_preview(data: bytes, *, cut: bool, masks: Masks) -> str | None:
    """A text file's preview masked (`data`: its first PREVIEW_BYTES), or None when masking changes nothing in it (the
    file's own bytes are then what the preview shows)."""
    if not masks:
        return None
    plain = shown_text(data, cut=cut, masks=NoMasks())
    masked = shown_text(data, cut=cut, masks=masks)
    return masked if masked != plain else None


def shown_text(data: bytes, *, cut: bool, masks: Masks) -> str:
    """Text as a run's page shows it: UTF-8 (a byte that is not is shown as U+FFFD, a NUL too: PostgreSQL's text
    cannot hold one), masked. `cut`: `data` is the file's first part only, so a character cut in two at its end is
    left out, and a value cut in two there is masked from its first part (Masker.mask_cut)."""
    text = codecs.getincrementaldecoder('utf-8')('replace').decode(data, final=not cut).replace('\x00', '\ufffd')
    return masks.mask_cut(text) if cut else masks.mask(text)
