"""Masking of secret values in run output: what the ingest stores for each line."""

from __future__ import annotations

import pytest

from app.services.execution.masking import Masker


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
