"""What each line a command prints becomes in the run's timeline (app/core/workflow_commands.py), GitHub's way:
comma-separated properties with GitHub's escapes; a malformed command is an ordinary output line."""

from __future__ import annotations

import pytest

from app.core.workflow_commands import (
    Annotation,
    Usage,
    annotation_of,
    event_of,
    parse_properties,
    remasked,
    usage_of,
)

E = '::error file=app.py,line=3::boom'


@pytest.mark.parametrize(
    ('line', 'event'),
    [
        # stages, as before: the space after `::` is customary, not needed; a marker without a name is text
        ('::stage:: install', ('stage', 'install')),
        ('::stage::test (deep)', ('stage', 'test (deep)')),
        ('::stage::   ', ('output', '::stage::   ')),
        # groups: the title is the data (GitHub's data escapes); `::endgroup::` has no text of its own
        ('::group::Install', ('group', 'Install')),
        ('::group::50%25 done', ('group', '50% done')),
        ('::group::', ('group', '')),
        ('::endgroup::', ('endgroup', '')),
        # annotations: the line as printed, read back by annotation_of
        (E, ('annotation', E)),
        ('::warning::careful', ('annotation', '::warning::careful')),
        ('::notice title=Hi::fyi', ('annotation', '::notice title=Hi::fyi')),
        # malformed or unknown: shown as it was printed, never an error
        ('::error file=app.py', ('output', '::error file=app.py')),  # no closing ::
        ('::error::', ('output', '::error::')),  # nothing to say
        ('::error line=three::boom', ('output', '::error line=three::boom')),  # line is not a number
        ('::debug::hidden', ('output', '::debug::hidden')),  # not a command Runboard knows
        ('::set-output name=x::1', ('output', '::set-output name=x::1')),
        ('::group title=x::Install', ('output', '::group title=x::Install')),  # groups take no properties
        ('::endgroup x=1::', ('output', '::endgroup x=1::')),
        (' ::error::indented', ('output', ' ::error::indented')),  # commands start at the first column
        ('::ERROR::shout', ('output', '::ERROR::shout')),
        ('plain text :: with colons', ('output', 'plain text :: with colons')),
        ('', ('output', '')),
        ('::add-mask::***', ('output', '::add-mask::***')),  # masking.py's, already applied: stays a line
    ],
)
def test_what_a_line_becomes(line: str, event: tuple[str, str]) -> None:
    assert event_of(line) == event


@pytest.mark.parametrize(
    ('text', 'properties'),
    [
        ('file=app.py,line=3', {'file': 'app.py', 'line': '3'}),
        ('title=a%2Cb%3Ac,file=x', {'title': 'a,b:c', 'file': 'x'}),  # GitHub's property escapes
        ('title=100%25 sure', {'title': '100% sure'}),
        ('title=two%0Alines%0D', {'title': 'two\nlines\r'}),
        ('title=%252C', {'title': '%2C'}),  # %25 last: an escaped escape stays one
        ('title=a=b', {'title': 'a=b'}),  # the first = splits
        ('file=app.py,,line=3,', {'file': 'app.py', 'line': '3'}),  # empty pairs are skipped
        ('novalue,=x,file=a', {'file': 'a'}),  # no = or no key: ignored, as GitHub does
        (' file = a ', {'file': ' a '}),  # keys are trimmed, values are kept
        ('', {}),
    ],
)
def test_properties_are_parsed_the_github_way(text: str, properties: dict[str, str]) -> None:
    assert parse_properties(text) == properties


@pytest.mark.parametrize(
    ('text', 'annotation'),
    [
        (E, Annotation('error', 'boom', file='app.py', line=3)),
        (
            '::warning file=src/a.py,line=1,endLine=2,col=4,endColumn=9,title=Lint%3A E1::unused import',
            Annotation('warning', 'unused import', 'Lint: E1', 'src/a.py', 1, 2, 4, 9),
        ),
        ('::notice::deployed 100%25%0Aok', Annotation('notice', 'deployed 100%\nok')),
        ('::error title=::no title', Annotation('error', 'no title')),  # an empty value is no value
        ('::error::a::b', Annotation('error', 'a::b')),  # the message may hold ::
        (  # a line cut short keeps its annotation: the notice of the cut is part of the message
            '::error file=app.py,line=3::boom … [cut]',
            Annotation('error', 'boom … [cut]', file='app.py', line=3),
        ),
        ('boom', None),
        ('::group::x', None),
    ],
)
def test_an_annotation_event_read_back(text: str, annotation: Annotation | None) -> None:
    assert annotation_of(text) == annotation


def test_where_an_annotation_points_as_people_write_it() -> None:
    assert Annotation('error', 'm', file='app.py', line=3).place == 'app.py:3'
    assert Annotation('error', 'm', file='app.py').place == 'app.py'
    assert Annotation('error', 'm').place == ''


@pytest.mark.parametrize(
    ('line', 'usage'),
    [
        # the example
        ('::usage input_tokens=1200,output_tokens=300,cost_usd=0.42::', Usage(1200, 300, 0.42)),
        # any of the fields, in any order, spaces after commas
        ('::usage cost_usd=0.1::', Usage(0, 0, 0.1)),
        ('::usage model=claude-sonnet-4, output_tokens=7::', Usage(0, 7, 0.0, 'claude-sonnet-4')),
        ('::usage model=gpt%2C5::', Usage(model='gpt,5')),  # property escapes as GitHub's
        # malformed: the line is text and counts nothing
        ('::usage::', None),  # no field
        ('::usage ::', None),
        ('::usage cost_usd=abc::', None),
        ('::usage cost_usd=-1::', None),
        ('::usage cost_usd=nan::', None),
        ('::usage cost_usd=inf::', None),
        ('::usage input_tokens=1.5::', None),  # tokens are whole
        ('::usage input_tokens=-3::', None),
        ('::usage tokens=3::', None),  # unknown field: a typo must not count half a line
        ('::usage cost_usd=1,cost_usd=2::', None),  # twice
        ('::usage cost_usd=1::extra', None),  # data after the closing ::
        ('::usage cost_usd=1', None),  # no closing ::
        (' ::usage cost_usd=1::', None),  # not at the first column
        ('::USAGE cost_usd=1::', None),
        ('::usage cost_usd=2000000::', None),  # not a spend: a mistake
    ],
)
def test_what_a_usage_line_reports(line: str, usage: Usage | None) -> None:
    assert usage_of(line) == usage
    assert event_of(line) == ('output', line)  # a usage line stays a line of the log, well formed or not


def test_usage_lines_sum() -> None:
    one = usage_of('::usage input_tokens=1200,output_tokens=300,cost_usd=0.42::')
    assert one is not None
    assert one.plus(one) == Usage(2400, 600, 0.84)
    assert Usage(model='a').plus(Usage(cost_usd=0.1)).model == 'a'  # the last model named


@pytest.mark.parametrize(
    ('line', 'expected'),
    [
        ('::error::plain', '::error::plain'),  # nothing to mask: the line as printed
        ('::error::a%25b here', '::error::*** here'),
        ('::warning title=x%2Cy a%25b,line=3::m', '::warning title=x%2Cy ***,line=3::m'),
        ('::group::a%25b', '::group::a%25b'),  # not an annotation: masked where it is read
        ('plain a%25b', 'plain a%25b'),
    ],
)
def test_an_annotation_is_masked_in_its_unescaped_values(line: str, expected: str) -> None:
    assert remasked(line, lambda text: text.replace('a%b', '***')) == expected
