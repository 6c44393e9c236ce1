"""Which bytes a download's `Range` header asks for (app/api/artifacts.py byte_range), for a 1,000-byte file."""

from __future__ import annotations

import pytest

from app.api.artifacts import byte_range
from app.core.errors import DomainError


@pytest.mark.parametrize(
    'header, wanted',
    [
        (None, None),
        ('', None),
        ('bytes=0-99', (0, 99)),
        ('bytes=900-', (900, 999)),  # to the end: how `curl -C -` resumes
        ('bytes=-100', (900, 999)),  # the last 100
        ('bytes=-5000', (0, 999)),  # more than there is: all of it
        ('bytes=500-5000', (500, 999)),  # an end past the end is cut to it
        ('bytes=999-999', (999, 999)),
        ('bytes=0-0,10-20', None),  # several ranges: the whole file (RFC 9110 lets a server ignore Range)
        ('bytes=20-10', None),  # not a range: ignored
        ('items=0-9', None),  # another unit: ignored
        ('bytes=abc', None),
        ('bytes=1-x', None),
        ('bytes=x-5', None),  # a first byte that is no number: ignored, not a 500
        ('bytes=-', None),
        ('bytes= 1 -5', None),
    ],
)
def test_the_range_asked_for(header: str | None, wanted: tuple[int, int] | None) -> None:
    assert byte_range(header, 1000) == wanted


@pytest.mark.parametrize('header', ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0'])
def test_a_range_past_the_end_is_416_naming_the_size(header: str) -> None:
    with pytest.raises(DomainError) as refused:
        byte_range(header, 1000)
    assert refused.value.status == 416 and refused.value.error == 'range_not_satisfiable'
    assert refused.value.headers == {'Content-Range': 'bytes */1000'}


def test_an_empty_file_has_no_last_bytes_to_send() -> None:
    with pytest.raises(DomainError) as refused:
        byte_range('bytes=-5', 0)
    assert refused.value.status == 416 and refused.value.headers == {'Content-Range': 'bytes */0'}
    assert byte_range(None, 0) is None
