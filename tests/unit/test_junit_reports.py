"""JUnit XML as the Tests tab reads it (junitparser): totals, failures and errors with message and trace,
skipped, nested suites, either root; other XML is no report; a hostile report (entities, DTD) is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services.artifacts.junit import parse_report, parse_reports, plain
from tests.helpers.artifacts import pytest_junit

PYTEST = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4" time="1.6">
<testcase classname="tests.test_a" name="test_ok" time="0.01"/>
<testcase classname="tests.test_a" name="test_bad" time="0.02"><failure message="assert 1 == 2">def test_bad():
&gt;   assert 1 == 2</failure></testcase>
<testcase classname="tests.test_a" name="test_skip" time="0"><skipped message="not today"/></testcase>
<testcase classname="tests.test_b" name="test_err" time="1.5"><error message="boom">Traceback: boom</error></testcase>
</testsuite></testsuites>"""

SUREFIRE_NESTED = """<testsuite name="outer" tests="2">
<testcase classname="Outer" name="one" time="0.5"/>
<testsuite name="inner"><testcase classname="Inner" name="two" time="0.25"><failure>expected</failure></testcase>
</testsuite></testsuite>"""

XXE = """<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<testsuite name="s"><testcase name="t"><failure message="&e;"/></testcase></testsuite>"""

LAUGHS = """<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>
<testsuite name="s"><testcase name="t"><failure message="&b;"/></testcase></testsuite>"""


def write(tmp_path: Path, name: str, body: str) -> tuple[str, Path]:
    path = tmp_path / name
    path.write_text(body)
    return name, path


def test_a_pytest_report(tmp_path: Path) -> None:
    parsed = parse_reports([write(tmp_path, 'junit.xml', PYTEST)])
    assert parsed.reports == ['junit.xml'] and parsed.problems == []
    assert parsed.totals.as_dict() == {
        'total': 4,
        'passed': 1,
        'failed': 1,
        'errors': 1,
        'skipped': 1,
        'duration_seconds': 1.53,
    }
    cases = {case.test_id: case for _, case in parsed.cases}
    bad = cases['tests.test_a::test_bad']
    assert (bad.status, bad.message) == ('failed', 'assert 1 == 2')
    assert bad.trace == 'def test_bad():\n>   assert 1 == 2'
    assert cases['tests.test_b::test_err'].status == 'error'
    assert cases['tests.test_a::test_skip'].message == 'not today'
    assert cases['tests.test_a::test_ok'].message is None


def test_a_testsuite_root_with_a_nested_suite(tmp_path: Path) -> None:
    parsed = parse_reports([write(tmp_path, 'TEST-outer.xml', SUREFIRE_NESTED)])
    assert [(c.test_id, c.status) for _, c in parsed.cases] == [('Outer::one', 'passed'), ('Inner::two', 'failed')]
    assert parsed.cases[1][1].trace == 'expected'


def test_two_reports_are_merged_and_other_xml_is_no_report(tmp_path: Path) -> None:
    files = [
        write(tmp_path, 'a.xml', PYTEST),
        write(tmp_path, 'coverage.xml', '<coverage line-rate="0.9"/>'),
        write(tmp_path, 'b.xml', SUREFIRE_NESTED),
    ]
    parsed = parse_reports(files)
    assert parsed.reports == ['a.xml', 'b.xml'] and parsed.totals.total == 6 and parsed.problems == []


def test_broken_and_hostile_reports_are_named_not_parsed(tmp_path: Path) -> None:
    files = [
        write(tmp_path, 'xxe.xml', XXE),
        write(tmp_path, 'laughs.xml', LAUGHS),
        write(tmp_path, 'cut.xml', PYTEST[:200]),
    ]
    parsed = parse_reports(files)
    assert parsed.reports == [] and parsed.cases == []
    assert [problem.split(':')[0] for problem in parsed.problems] == ['xxe.xml', 'laughs.xml', 'cut.xml']
    assert 'root:' not in ''.join(parsed.problems)  # nothing of /etc/passwd


def test_long_messages_are_cut_visibly(tmp_path: Path) -> None:
    body = (
        f'<testsuite><testcase name="t"><failure message="{"m" * 5000}">{"x" * 30000}</failure></testcase></testsuite>'
    )
    ((_, case),) = parse_reports([write(tmp_path, 'r.xml', body)]).cases
    assert case.message is not None and case.message.endswith('[cut at 2000 characters]')
    assert case.trace is not None and len(case.trace) < 20_100


def test_an_unreadable_value_or_a_bottomless_report_is_a_problem_not_a_lost_run(tmp_path: Path) -> None:
    """Parsing happens after a run's files are kept: a report that breaks the parser must not lose them all."""
    odd_time = '<testsuite><testcase name="a" time="1.2.3"/><testcase name="b" time="2"/></testsuite>'
    deep = '<testsuites>' + '<testsuite name="s">' * 3000 + '</testsuite>' * 3000 + '</testsuites>'
    parsed = parse_reports([write(tmp_path, 'odd.xml', odd_time), write(tmp_path, 'deep.xml', deep)])
    assert [(case.name, case.duration_seconds) for _, case in parsed.cases] == [('a', 0.0), ('b', 2.0)]
    assert parsed.reports == ['odd.xml']
    assert parsed.problems == ['deep.xml: not a readable report (RecursionError)']


def test_other_xml_is_told_from_its_root_without_reading_the_rest(tmp_path: Path) -> None:
    """A coverage.xml of a large code base is tens of MB: its first element says it is no JUnit report, and the rest
    (here cut off, as a file still being written would be) is never parsed."""
    cut_off = '<coverage line-rate="0.9"><packages>' + '<package name="p">' * 1000
    parsed = parse_reports([write(tmp_path, 'coverage.xml', cut_off), write(tmp_path, 'a.xml', PYTEST)])
    assert parsed.reports == ['a.xml'] and parsed.problems == []


@pytest.mark.parametrize(
    ('written', 'read'),
    [
        ('#x1B[31mE   assert 1 == 2#x1B[0m', 'E   assert 1 == 2'),  # pytest's spelling of the escape character
        ('\x1b[1m\x1b[31mFAILED\x1b[0m tests/a.py', 'FAILED tests/a.py'),  # an escape a report holds as it is
        ('line one\n#x1B[32mline two#x1B[0m', 'line one\nline two'),
        ('10%\r50%\r100%', '100%'),  # a progress line as a terminal ends up showing it
        ('a #x1B literally, no sequence', 'a #x1B literally, no sequence'),
        ('plain', 'plain'),
    ],
)
def test_messages_and_traces_are_kept_as_a_person_reads_them(written: str, read: str) -> None:
    assert plain(written) == read


def test_a_coloured_pytest_failure_is_stored_without_its_colour_codes(tmp_path: Path) -> None:
    report = tmp_path / 'report.xml'
    report.write_text(
        '<testsuite name="s"><testcase classname="t" name="test_x">'
        '<failure message="#x1B[31massert 1 == 2#x1B[0m">#x1B[1m&gt;   assert 1 == 2#x1B[0m\n'
        '#x1B[1m#x1B[31mE   assert 1 == 2#x1B[0m</failure></testcase></testsuite>'
    )
    (case,) = parse_report(report)
    assert case.message == 'assert 1 == 2'
    assert case.trace == '>   assert 1 == 2\nE   assert 1 == 2'


def test_a_failed_tests_output_is_kept_as_pytest_wrote_it(tmp_path: Path) -> None:
    """pytest's own report (`--junitxml`, `-o junit_logging=all`): the failed test's <system-out> and <system-err>
    are kept, without colour codes, its last 16 KiB when it printed more; a passing test's output is not kept."""
    report = tmp_path / 'junit.xml'
    report.write_text(pytest_junit(tmp_path / 'suite'))
    cases = {case.name: case for case in parse_report(report)}
    passed, failed = cases['test_quiet_pass'], cases['test_prints_then_fails']
    assert (passed.status, passed.system_out, passed.system_err) == ('passed', None, None)
    assert failed.status == 'failed' and failed.message == 'assert 401 == 200'
    out = failed.system_out or ''
    assert out.startswith('[… cut: its last 16 KiB]\n')
    assert out.rstrip().endswith('retrying the db\nlast line before the failure')  # no #x1B[31m, no escape
    assert '#x1B' not in out and '\x1b' not in out
    assert len(out.removeprefix('[… cut: its last 16 KiB]\n').encode()) <= 16 * 1024
    assert 'Captured Err' in (failed.system_err or '') and 'warning: retrying' in (failed.system_err or '')


@pytest.mark.parametrize(
    ('written', 'kept'),
    [
        ('', None),  # an empty element: nothing
        ('   \n', None),
        ('#x1B[32mok#x1B[0m', 'ok'),
        ('é' * 9000, '[… cut: its last 16 KiB]\n' + 'é' * 8192),  # 18,000 bytes: the last 16 KiB, whole characters
    ],
)
def test_a_failed_tests_output_element(tmp_path: Path, written: str, kept: str | None) -> None:
    report = tmp_path / 'r.xml'
    report.write_text(
        f'<testsuite><testcase name="t"><failure message="m"/><system-out>{written}</system-out></testcase></testsuite>'
    )
    (case,) = parse_report(report)
    assert case.system_out == kept
