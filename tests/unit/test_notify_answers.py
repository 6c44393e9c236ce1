"""Pure: what a receiver answered, as operators read it (services/notifications/answers.py): the first 2 KiB as
inert text, decoded with replacement in the answer's charset, a character cut in two by the excerpt dropped, escape
sequences and control characters removed, a compressed body unpacked within the same bound."""

from __future__ import annotations

import gzip
import zlib

import pytest

from app.services.notifications.answers import EXCERPT_BYTES, Answer, answer_of, inert


@pytest.mark.parametrize(
    ('raw', 'charset', 'more', 'excerpt'),
    [
        # plain text and JSON as sent
        (b'{"ok": false, "error": "bad signature"}', None, False, '{"ok": false, "error": "bad signature"}'),
        (b'', None, False, ''),  # an empty body is an answer too: kept as ''
        # CRLF and lone CR read as newlines; tabs kept
        (b'line 1\r\nline 2\rline 3\tend', None, False, 'line 1\nline 2\nline 3\tend'),
        # ANSI colours, a cursor move, an OSC title (BEL- and ST-ended) and an OSC 8 link: gone, their text kept
        (b'\x1b[31mred\x1b[0m \x1b[2Jclear', None, False, 'red clear'),
        (b'\x1b]0;pwned\x07title \x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\', None, False, 'title link'),
        (b'a stray \x1b', None, False, 'a stray '),  # an escape with nothing after it
        # C0, DEL and C1 controls, NUL, and the bidirectional overrides (Trojan Source)
        (b'nul\x00 bell\x07 del\x7f bs\x08', None, False, 'nul bell del bs'),
        ('c1\x9b31m rtl\u202eevil\u2066x\u2069'.encode(), None, False, 'c131m rtlevilx'),
        # bytes that do not decode are replaced, not dropped
        (b'caf\xe9 \xff', None, False, 'caf\ufffd \ufffd'),
        # the charset the Content-Type names; an unknown one reads as UTF-8
        (b'caf\xe9', 'iso-8859-1', False, 'café'),
        ('café'.encode(), 'no-such-charset', False, 'café'),
        # the excerpt cut a character in two: the half is dropped, not shown as a replacement character
        ('ab€'.encode()[:4], None, True, 'ab'),
        # ...but a body that ended mid-character was malformed: replaced
        ('ab€'.encode()[:4], None, False, 'ab\ufffd'),
    ],
)
def test_the_excerpt_is_inert_text(raw: bytes, charset: str | None, more: bool, excerpt: str) -> None:
    answer = answer_of(raw, content_type='text/plain', charset=charset, more=more)
    assert answer == Answer('text/plain', excerpt, more)


def test_at_most_2_kib_are_kept() -> None:
    answer = answer_of(b'x' * (EXCERPT_BYTES + 500), content_type=None, charset=None, more=True)
    assert answer.excerpt == 'x' * EXCERPT_BYTES and answer.truncated and answer.content_type is None


@pytest.mark.parametrize(
    ('content_type', 'shown'),
    [
        ('application/json; charset=utf-8', 'application/json; charset=utf-8'),
        ('text/html\x1b[31m', 'text/html'),
        ('t' * 300, 't' * 200),
        ('  ', None),
        (None, None),
    ],
)
def test_the_content_type_is_inert_and_short(content_type: str | None, shown: str | None) -> None:
    assert answer_of(b'', content_type=content_type, charset=None).content_type == shown


@pytest.mark.parametrize(
    ('encoding', 'packed'),
    [
        ('gzip', gzip.compress(b'\x1b[1mzipped\x1b[0m answer')),
        ('deflate', zlib.compress(b'\x1b[1mzipped\x1b[0m answer')),
        ('deflate', zlib.compress(b'\x1b[1mzipped\x1b[0m answer', wbits=-zlib.MAX_WBITS)),  # raw deflate
    ],
    # named, not by their bytes: gzip's header holds the time it was made, and test processes that collected a
    # second apart would each have another test (pytest-xdist stops on that)
    ids=['gzip', 'deflate', 'raw-deflate'],
)
def test_a_compressed_body_is_unpacked(encoding: str, packed: bytes) -> None:
    answer = answer_of(packed, content_type='text/plain', charset=None, content_encoding=encoding)
    assert answer == Answer('text/plain', 'zipped answer', False)


def test_a_compressed_body_unpacks_only_as_far_as_the_excerpt() -> None:
    """A gzip bomb: a few KiB unpacking to megabytes yields 2 KiB, marked as cut."""
    bomb = gzip.compress(b'a' * 10_000_000)[:EXCERPT_BYTES]
    answer = answer_of(bomb, content_type=None, charset=None, content_encoding='gzip', more=True)
    assert answer.excerpt == 'a' * EXCERPT_BYTES and answer.truncated


@pytest.mark.parametrize(
    ('encoding', 'raw', 'excerpt'),
    [
        ('br', b'\x8b\x02\x80hi\x03', '(a body in br encoding: not shown)'),
        ('gzip', b'not gzip at all', '(a body in gzip encoding: not shown)'),
        ('identity', b'plain', 'plain'),
    ],
)
def test_an_encoding_that_does_not_unpack_is_said_not_shown(encoding: str, raw: bytes, excerpt: str) -> None:
    assert answer_of(raw, content_type=None, charset=None, content_encoding=encoding).excerpt == excerpt


def test_inert_keeps_newlines_and_tabs() -> None:
    assert inert('a\tb\nc\r\nd\x1b[0m\x00') == 'a\tb\nc\nd'
