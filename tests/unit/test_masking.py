"""Masking of secret values in run output: what the ingest stores for each line."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from app.config import Settings
from app.core.workflow_commands import annotation_of
from app.infra.events import EventBus
from app.services.execution import masking
from app.services.execution.live import LiveRun
from app.services.execution.masking import MAX_ADDED_VALUES, Masker
from app.services.execution.output_ingest import OutputIngest

re_compile = re.compile


@pytest.mark.parametrize(
    ('secrets', 'line', 'stored'),
    [
        (['hunter22'], 'hunter22', '***'),
        (['hunter22'], 'token=hunter22; again hunter22.', 'token=***; again ***.'),
        (['hunter22'], 'hunter2 is not it', 'hunter2 is not it'),
        (['abcd', 'abcdef'], 'x abcdef y abcd', 'x *** y ***'),  # the longer value is masked whole
        (['a.c*'], 'regex a.c* and abc', 'regex *** and abc'),  # values are text, not patterns
        (['line one\nline two'], 'then line two here', 'then *** here'),  # a multi-line secret, line by line
        ([], 'nothing to hide', 'nothing to hide'),
        (['ab'], 'ab ab', 'ab ab'),  # too short to mask (the API refuses such secrets)
    ],
)
def test_mask(secrets, line, stored) -> None:  # noqa: ANN001
    assert Masker(secrets).take_line(line) == stored


def test_add_mask_masks_from_then_on_and_hides_itself() -> None:
    masker = Masker()
    assert masker.take_line('hunter2 before') == 'hunter2 before'
    assert masker.take_line('::add-mask::hunter2') == '::add-mask::***'
    assert masker.take_line('echo hunter2') == 'echo ***'
    assert masker.take_line('::add-mask::') == '::add-mask::'  # nothing to mask: shown as written


@pytest.mark.parametrize(
    ('cut', 'stored'),
    [
        ('prefix s3cr', 'prefix ***'),  # the cut fell inside the value
        ('prefix s3cret!', 'prefix ***'),
        ('prefix plain', 'prefix plain'),
    ],
)
def test_a_cut_line_does_not_end_in_part_of_a_value(cut, stored) -> None:  # noqa: ANN001
    assert Masker(['s3cret!']).mask_cut(cut) == stored


@pytest.mark.parametrize(
    ('values', 'cut', 'stored'),
    [
        # the longest part of any value the cut line ends in is masked, not the first value's (a longer value
        # ending the line in `2` would leave `hunter` shown)
        (['2222222222', 'hunter22'], 'say hunter2', 'say ***'),
        (['x' * 100_000], 'prefix ' + 'x' * 3_000, 'prefix ***'),  # a value longer than the line
        (['x' * 100_000], 'prefix ' + 'y' * 3_000, 'prefix ' + 'y' * 3_000),
    ],
)
def test_a_cut_line_ends_in_no_part_of_any_value(values, cut, stored) -> None:  # noqa: ANN001
    assert Masker(values).mask_cut(cut) == stored


def declared(count: int) -> list[str]:
    return [f'::add-mask::value-{n:05d}' for n in range(count)]


@pytest.mark.parametrize(
    ('lines', 'probe', 'stored', 'warned'),
    [
        (declared(3), 'value-00000 value-00002 value-00003', '*** *** value-00003', False),
        (['::add-mask::abcd', '::add-mask::abcdef'], 'x abcdef y abcd', 'x *** y ***', False),  # longest first
        (['::add-mask::ab', '::add-mask::a.c*'], 'ab regex a.c* abc', 'ab regex *** abc', False),  # text, not pattern
        (declared(MAX_ADDED_VALUES), 'value-00000 value-00099', '*** ***', False),  # the cap: all masked
        # past the cap a value is not masked (its own line is: `::add-mask::***`), and the log warns once
        (declared(MAX_ADDED_VALUES + 1), 'value-00099 value-00100', '*** value-00100', True),
        (declared(5_000), 'value-00000 value-04999', '*** value-04999', True),
        (['::add-mask::value-00000'] * 5_000, 'value-00000', '***', False),  # a value again counts once
        (declared(MAX_ADDED_VALUES + 1) + ['::add-mask::value-00000'], 'project-secret', '***', True),
    ],
)
def test_add_mask_values_up_to_the_cap(lines: list[str], probe: str, stored: str, warned: bool) -> None:
    masker = Masker(['project-secret'])  # the project's own secrets do not count
    assert {masker.take_line(line) for line in lines} == {'::add-mask::***'}  # no value is ever shown
    assert masker.take_line(probe) == stored
    assert len(masker.values) <= 1 + MAX_ADDED_VALUES  # what every later line is masked with
    assert (masker.take_warning() is not None) == warned
    assert masker.take_warning() is None  # once


async def test_thousands_of_add_mask_lines_are_ingested_with_the_cap_and_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled = []
    monkeypatch.setattr(masking.re, 'compile', lambda *args: compiled.append(args) or re_compile(*args))
    ingest = OutputIngest(
        settings=Settings(data_dir=tmp_path, demo=False), engine=create_engine('sqlite://'), bus=EventBus()
    )
    live = LiveRun('run_1', 'proj', 'team')
    live.masker = Masker(['project-secret'])
    stream = asyncio.StreamReader()
    stream.feed_data(''.join(f'{line}\n' for line in declared(5_000)).encode())
    stream.feed_data(b'value-00000 value-04999 project-secret\n')
    stream.feed_eof()
    await ingest.read(live, stream)
    output = [text for kind, text in live.buffer if kind == 'output']
    assert output == ['::add-mask::***'] * 5_000 + ['*** value-04999 ***']
    warnings = [(n, text) for n, (kind, text) in enumerate(live.buffer) if kind == 'runboard_annotation']
    assert len(warnings) == 1
    seq, warning = warnings[0]
    assert live.buffer[seq - 1] == ('output', '::add-mask::***')  # right after the line past the cap
    assert annotation_of(warning) is not None and f'{MAX_ADDED_VALUES}' in warning
    assert 'value-' not in warning
    assert len(compiled) <= 1  # bounded work: no matcher rebuilt per value
    assert len(live.masker.values) == 1 + MAX_ADDED_VALUES


async def test_a_secret_with_a_percent_is_masked_where_its_escaped_form_is_unescaped(tmp_path: Path) -> None:
    """A workflow command's text is `%25`-escaped: printed escaped, a secret with a `%` in it passes the masking of
    the line as printed and comes back whole when the group title or annotation is read. It is masked there too."""
    ingest = OutputIngest(
        settings=Settings(data_dir=tmp_path, demo=False), engine=create_engine('sqlite://'), bus=EventBus()
    )
    live = LiveRun('run_1', 'proj', 'team')
    live.masker = Masker(['pa%ss-word'])
    stream = asyncio.StreamReader()
    printed = [
        '::group::deploy with pa%25ss-word',
        '::stage:: build pa%ss-word',
        '::error title=pa%25ss-word,file=a.py::login pa%25ss-word failed',
    ]
    stream.feed_data(''.join(f'{line}\n' for line in printed).encode())
    stream.feed_eof()
    await ingest.read(live, stream)
    stored = dict(live.buffer)
    assert stored['group'] == 'deploy with ***'
    assert stored['stage'] == 'build ***'
    annotation = annotation_of(stored['annotation'])
    assert annotation is not None and annotation.message == 'login *** failed' and annotation.title == '***'
    assert annotation.file == 'a.py'
    assert 'ss-word' not in str(live.buffer)
