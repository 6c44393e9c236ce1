"""What is kept of a run's files is masked as its log is (services/artifacts/masked.py, junit.py): a file's name, its
summary (whole, or its first part), and each text of its test cases, masked before it is cut to size, with the run's
own Masker (the cap on `::add-mask::` values included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services.artifacts import junit
from app.services.artifacts.masked import NoMasks, is_previewed, masked_name, masked_preview, shown_text
from app.services.execution.masking import MAX_ADDED_VALUES, Masker

SECRET = 'tok-5ecret-Zq81'


@pytest.mark.parametrize(
    ('path', 'shown'),
    [
        ('junit.xml', None),  # nothing to mask: kept under its name
        (f'report-{SECRET}.txt', 'report-***.txt'),  # listed by its masked name, not kept
        (f'{SECRET}/out.log', '***/out.log'),  # a folder's name too
        ('tok-5ecret.txt', None),  # a value's first part alone is no value
    ],
)
def test_masked_name(path: str, shown: str | None) -> None:
    assert masked_name(path, Masker([SECRET])) == shown


@pytest.mark.parametrize(
    ('data', 'cut', 'text'),
    [
        (f'### Deploy\nused `{SECRET}`\n'.encode(), False, '### Deploy\nused `***`\n'),
        (f'a {SECRET}\nb {SECRET}'.encode(), False, 'a ***\nb ***'),  # every line, every time
        (f'the end: {SECRET[:6]}'.encode(), True, 'the end: ***'),  # cut inside a value: its first part is masked
        (f'the end: {SECRET[:6]}'.encode(), False, f'the end: {SECRET[:6]}'),  # the whole file: no value there
        ('café'.encode()[:-1], True, 'caf'),  # a character cut in two at the cut is left out
        (b'bad \xff byte and \x00', False, 'bad \ufffd byte and \ufffd'),  # not UTF-8; a NUL PostgreSQL cannot hold
        (b'nothing to hide', False, 'nothing to hide'),
    ],
)
def test_shown_text(data: bytes, cut: bool, text: str) -> None:
    assert shown_text(data, cut=cut, masks=Masker([SECRET])) == text


@pytest.mark.parametrize(
    ('data', 'cut', 'masks', 'preview'),
    [
        (f'token={SECRET}\n'.encode(), False, Masker([SECRET]), 'token=***\n'),  # the preview shows it masked
        (b'nothing to hide\n', False, Masker([SECRET]), None),  # the file's own bytes are its preview
        (f'token={SECRET}\n'.encode(), False, NoMasks(), None),  # a run with no values to mask
        (f'cut at {SECRET[:7]}'.encode(), True, Masker([SECRET]), 'cut at ***'),  # a value cut at the preview's end
        (f'{SECRET}'.encode(), False, Masker(), None),  # nothing declared: nothing masked
    ],
)
def test_masked_preview(data: bytes, cut: bool, masks: Masker | NoMasks, preview: str | None) -> None:
    assert masked_preview(data, cut=cut, masks=masks) == preview


@pytest.mark.parametrize(
    ('content_type', 'previewed'),
    [
        ('text/plain', True),
        ('text/markdown', True),
        ('application/json', True),
        ('application/xml', True),
        ('text/html', False),  # opens in its sandbox, as the file itself
        ('image/png', False),
        ('application/octet-stream', False),
    ],
)
def test_is_previewed(content_type: str, previewed: bool) -> None:
    assert is_previewed(content_type) is previewed


def test_a_summary_is_masked_as_its_log_was_up_to_the_cap() -> None:
    """The run's Masker, as its log left it: a value declared past the cap is not masked here either."""
    masker = Masker([SECRET])
    for n in range(MAX_ADDED_VALUES + 1):
        masker.take_line(f'::add-mask::declared-value-{n:03}')
    text = f'{SECRET} declared-value-000 declared-value-{MAX_ADDED_VALUES:03}'
    assert masker.mask(text) == f'*** *** declared-value-{MAX_ADDED_VALUES:03}'
    assert shown_text(text.encode(), cut=False, masks=masker) == masker.mask(text)
    assert shown_text(text.encode(), cut=False, masks=NoMasks()) == text


def report(message: str, out: str, name: str = 'test_login') -> str:
    return (
        '<testsuite name="pytest"><testcase classname="tests.test_api" name="'
        + name
        + '" time="0.1"><failure message="'
        + message
        + '">trace of '
        + message
        + '</failure><system-out>'
        + out
        + '</system-out><system-err>err '
        + out
        + '</system-err></testcase></testsuite>'
    )


@pytest.mark.parametrize(
    ('name', 'message', 'out', 'expected'),
    [
        (  # every text of the case
            f'test_login[{SECRET}]',
            f'refused {SECRET}',
            f'token {SECRET}',
            {
                'name': 'test_login[***]',
                'message': 'refused ***',
                'trace': 'trace of refused ***',
                'system_out': 'token ***',
                'system_err': 'err token ***',
            },
        ),
        (  # masked before it is cut: the message's cut falls inside the value, and nothing of it is left
            'test_long',
            'x' * (junit.MAX_MESSAGE - 4) + SECRET + 'z' * 10,
            'ok',
            {'message': 'x' * (junit.MAX_MESSAGE - 4) + f'***z … [cut at {junit.MAX_MESSAGE} characters]'},
        ),
        (  # the output's end is kept: cut first, it would start inside the value (`ecret-Zq81yyy…`)
            'test_out',
            'boom',
            SECRET + 'y' * (junit.MAX_OUTPUT_BYTES - 10),
            {'system_out': '***' + 'y' * (junit.MAX_OUTPUT_BYTES - 10)},
        ),
        (  # colour codes split the value: it is masked as a person reads it
            'test_colour',
            'boom',
            'tok-5e#x1B[1mcret-Zq81',
            {'system_out': '***'},
        ),
    ],
)
def test_a_reports_texts_are_masked_before_they_are_cut(
    tmp_path: Path, name: str, message: str, out: str, expected: dict[str, str]
) -> None:
    (tmp_path / 'junit.xml').write_text(report(message, out, name))
    parsed = junit.parse_reports([('junit.xml', tmp_path / 'junit.xml')], Masker([SECRET]).mask)
    [(_, case)] = parsed.cases
    for field, text in expected.items():
        assert getattr(case, field) == text, field
    assert SECRET not in str(case)


def test_a_broken_reports_problem_is_masked(tmp_path: Path) -> None:
    (tmp_path / f'{SECRET}.xml').write_text('<testsuite><testcase name="a">')
    parsed = junit.parse_reports([(f'{SECRET}.xml', tmp_path / f'{SECRET}.xml')], Masker([SECRET]).mask)
    assert parsed.problems and parsed.problems[0].startswith('***.xml: not well-formed XML')
