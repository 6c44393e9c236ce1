"""JUnit XML -> test cases (junitparser). A report is a file whose root is `<testsuites>` or `<testsuite>`
(pytest `--junitxml`, Maven Surefire, Gradle, go-junit-report, jest-junit ...); any other XML is not a report.

Parsed through junitparser with defusedxml's parser (entity declarations, external entities and DTD tricks
refused): the file comes from a run, and the server parses it. Every text kept of a case (its names, message, trace
and output) goes through the run's `mask` (its secrets and `::add-mask::` values, as its log) before it is cut to
size, so no cut leaves the first part of a value behind."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import defusedxml.ElementTree as defused
from defusedxml import DefusedXmlException
from junitparser import Error, Failure, JUnitXml, JUnitXmlError, Skipped, TestSuite

from app.services.runs.output_search import shown_text

MAX_MESSAGE = 2000
MAX_TRACE = 20_000
MAX_OUTPUT_BYTES = 16 * 1024  # a failed test's <system-out> and <system-err>, each: its end is kept


class NotAReport(Exception):
    """The file is no JUnit XML (another XML, or not XML at all)."""


@dataclass(frozen=True)
class Case:
    classname: str
    name: str
    status: str  # passed | failed | error | skipped
    duration_seconds: float
    message: str | None = None
    trace: str | None = None
    system_out: str | None = None  # failed and errored tests only: what it printed (pytest: `-o junit_logging=all`)
    system_err: str | None = None

    @property
    def test_id(self) -> str:
        return f'{self.classname}::{self.name}' if self.classname else self.name


@dataclass
class Totals:
    total: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    duration_seconds: float = 0.0

    def add(self, case: Case) -> None:
        self.total += 1
        setattr(self, _COUNTER[case.status], getattr(self, _COUNTER[case.status]) + 1)
        self.duration_seconds += case.duration_seconds

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, 'duration_seconds': round(self.duration_seconds, 3)}


_COUNTER = {'passed': 'passed', 'failed': 'failed', 'error': 'errors', 'skipped': 'skipped'}


@dataclass
class Parsed:
    cases: list[tuple[str, Case]] = field(default_factory=list)  # (report path, case)
    totals: Totals = field(default_factory=Totals)
    reports: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


ROOTS = ('testsuites', 'testsuite')
Mask = Callable[[str], str]  # a run's masking of one text (execution.masking.Masker.mask)


def _unmasked(text: str) -> str:
    return text


def _safe_parse(source: str | IO[bytes]) -> ET.ElementTree:
    return defused.parse(source, forbid_dtd=True)


def _text(value: Any, limit: int, mask: Mask = _unmasked) -> str | None:
    if value is None:
        return None
    text = mask(plain(str(value)).replace('\x00', '\ufffd'))
    if not text.strip():
        return None
    return text if len(text) <= limit else text[:limit] + f' … [cut at {limit} characters]'


def _output(value: Any, mask: Mask = _unmasked) -> str | None:
    """A test's <system-out> or <system-err> as a person reads it, its last MAX_OUTPUT_BYTES (UTF-8) when it is
    longer: what a test printed last is nearest its failure. None when it holds nothing."""
    if value is None:
        return None
    text = mask(plain(str(value)).replace('\x00', '\ufffd'))
    if not text.strip():
        return None
    data = text.encode()
    if len(data) <= MAX_OUTPUT_BYTES:
        return text
    kept = data[-MAX_OUTPUT_BYTES:].decode(errors='ignore')  # a character cut in two is left out
    return f'[… cut: its last {MAX_OUTPUT_BYTES // 1024} KiB]\n' + kept


def plain(text: str) -> str:
    """Pure: a message or trace as a person reads it: colour and other escape sequences removed, each line as a
    terminal ends up showing it. pytest (`--color=yes`, or a forced colour) writes them into its report as `#x1B[`
    (XML 1.0 cannot hold the escape character, so pytest spells it out); they were shown as that text."""
    if '#x1B[' not in text and '\x1b' not in text and '\r' not in text:
        return text
    return '\n'.join(shown_text(line) for line in text.replace('#x1B[', '\x1b[').split('\n'))


def _seconds(case: Any) -> float:
    """A case's `time`, 0 when it is missing or no number (`time="1.2.3"`: the case still counts)."""
    try:
        return max(0.0, float(case.time or 0.0))
    except (TypeError, ValueError):
        return 0.0


def _cases(suite: TestSuite, mask: Mask = _unmasked) -> list[Case]:
    found: list[Case] = []
    for case in suite:
        results = case.result
        status, message, trace = 'passed', None, None
        for kind, word in ((Error, 'error'), (Failure, 'failed'), (Skipped, 'skipped')):
            hit = next((r for r in results if isinstance(r, kind)), None)
            if hit is not None:
                status, message, trace = word, hit.message, hit.text
                break
        failed = status in ('failed', 'error')  # a passing test's output is not kept: nobody reads it
        found.append(
            Case(
                classname=mask(case.classname or '')[:500],
                name=mask(case.name or '')[:500],
                status=status,
                duration_seconds=_seconds(case),
                message=_text(message, MAX_MESSAGE, mask),
                trace=_text(trace, MAX_TRACE, mask),
                system_out=_output(case.system_out, mask) if failed else None,
                system_err=_output(case.system_err, mask) if failed else None,
            )
        )
    return found  # junitparser's iteration reaches the cases of nested suites too


def _root_tag(path: Path) -> str | None:
    """The file's root element, read without reading the rest (a coverage.xml of a large code base is tens of MB)."""
    for _, element in defused.iterparse(str(path), events=('start',), forbid_dtd=True):
        return str(element.tag)
    return None


def parse_report(source: str | Path | IO[bytes], mask: Mask = _unmasked) -> list[Case]:
    """The test cases of one JUnit XML file, in file order, their texts masked with `mask`. NotAReport when it is not
    one: a file whose root is not <testsuites> or <testsuite> is told from its first element, before the whole file
    is parsed."""
    try:
        if isinstance(source, Path) and (root := _root_tag(source)) not in ROOTS:
            raise NotAReport(f'its root is <{root}>, not a JUnit report')
        xml = JUnitXml.fromfile(str(source) if isinstance(source, Path) else source, parse_func=_safe_parse)
    except JUnitXmlError as exc:
        raise NotAReport(str(exc)) from exc
    except ET.ParseError as exc:
        raise NotAReport(f'not well-formed XML: {exc}') from exc
    except DefusedXmlException as exc:
        raise NotAReport(f'not well-formed XML: refused ({type(exc).__name__})') from exc
    suites = [xml] if isinstance(xml, TestSuite) else list(xml)
    cases: list[Case] = []
    for suite in suites:
        cases.extend(_cases(suite, mask))
    return cases


def looks_like_report(path: str) -> bool:
    return path.lower().endswith('.xml')


def parse_reports(files: list[tuple[str, Path]], mask: Mask = _unmasked) -> Parsed:
    """Every (shown path, file on disk) that is a JUnit report, merged, its texts masked with `mask`. A file that is
    XML but no report is skipped quietly (a coverage.xml); one that looks like a report and breaks is named in
    `problems` (masked too: a parser's words may quote the file)."""
    parsed = Parsed()
    for shown, path in files:
        try:
            cases = parse_report(path, mask)
        except NotAReport as exc:
            if 'not well-formed' in str(exc):
                parsed.problems.append(f'{shown}: {exc}'[:300])
            continue
        except OSError as exc:
            parsed.problems.append(f'{shown}: {exc.strerror or exc}')
            continue
        except (ValueError, RecursionError) as exc:  # a value junitparser cannot read, suites nested thousands deep
            parsed.problems.append(f'{shown}: not a readable report ({type(exc).__name__})')
            continue
        parsed.reports.append(shown)
        for case in cases:
            parsed.cases.append((shown, case))
            parsed.totals.add(case)
    parsed.problems = [mask(problem) for problem in parsed.problems]
    return parsed
