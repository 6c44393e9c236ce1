"""Pure: what a receiver answered to an attempt, as operators read it in the delivery log (docs/notifications.md,
"What the receiver answered"). The sender reads at most EXCERPT_BYTES of the body; this turns those bytes into inert
text: decoded in the answer's charset (else UTF-8) with replacement characters for what does not decode, a character
cut in two at the end dropped, terminal escape sequences (ANSI colours, cursor moves, OSC titles and links) removed,
and every control character but tab and newline, and the bidirectional overrides that reorder what a reader sees,
removed. No I/O."""

from __future__ import annotations

import codecs
import re
import zlib
from dataclasses import dataclass

EXCERPT_BYTES = 2048
CONTENT_TYPE_CHARS = 200
# CSI (colours, cursor), OSC (titles, links; ended by BEL or ST, or cut off), and the two-character ESC sequences
ESCAPES = re.compile(r'\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]')
# C0 but tab and newline, DEL, C1, and the bidirectional embeddings, overrides and isolates (Trojan Source)
CONTROLS = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]')
DECOMPRESSED = {'gzip': zlib.MAX_WBITS | 16, 'x-gzip': zlib.MAX_WBITS | 16, 'deflate': zlib.MAX_WBITS}


@dataclass(frozen=True)
class Answer:
    content_type: str | None
    excerpt: str
    truncated: bool  # the body went on past the excerpt, or stopped coming before it ended


def inert(text: str) -> str:
    """Pure: text without escape sequences or control characters (tab and newline kept; CRLF and CR read as
    newline)."""
    text = ESCAPES.sub('', text.replace('\r\n', '\n').replace('\r', '\n'))
    return CONTROLS.sub('', text)


def _codec(charset: str | None) -> str:
    try:
        return codecs.lookup(charset or 'utf-8').name
    except LookupError:
        return 'utf-8'


def _decompressed(raw: bytes, encoding: str) -> tuple[bytes, bool] | None:
    """The start of a gzip or deflate body (at most EXCERPT_BYTES + 1 bytes of it), or None when it does not
    decompress. Bounded: a small compressed body cannot blow up into a large one here."""
    wbits = DECOMPRESSED[encoding]
    for bits in (wbits, -zlib.MAX_WBITS) if encoding == 'deflate' else (wbits,):  # deflate: zlib-wrapped or raw
        try:
            out = zlib.decompressobj(bits).decompress(raw, EXCERPT_BYTES + 1)
        except zlib.error:
            continue
        return out[:EXCERPT_BYTES], len(out) > EXCERPT_BYTES
    return None


def answer_of(
    raw: bytes,
    *,
    content_type: str | None,
    charset: str | None,
    content_encoding: str | None = None,
    more: bool = False,
) -> Answer:
    """Pure: the answer as kept. `raw` is what was read of the body (at most EXCERPT_BYTES), `more` whether it went
    on (or stopped coming); `charset` the one the Content-Type names."""
    shown_type = inert(content_type)[:CONTENT_TYPE_CHARS].strip() or None if content_type else None
    encoding = (content_encoding or 'identity').strip().lower()
    if encoding not in ('identity', ''):
        unpacked = _decompressed(raw, encoding) if encoding in DECOMPRESSED else None
        if unpacked is None:
            return Answer(shown_type, f'(a body in {inert(encoding)[:40]} encoding: not shown)', more)
        raw, cut = unpacked
        more = more or cut
    raw = raw[:EXCERPT_BYTES]
    decoder = codecs.getincrementaldecoder(_codec(charset))(errors='replace')
    text = decoder.decode(raw, final=not more)  # a character the excerpt cut in two is dropped, not replaced
    return Answer(shown_type, inert(text), more)
