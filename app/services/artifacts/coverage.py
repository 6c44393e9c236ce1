"""Cobertura XML -> a run's line coverage (GitLab's coverage figure and its change in a merge request). A report is
a kept file named `coverage.xml`, `cobertura.xml` or `*.cobertura.xml` whose root is `<coverage line-rate="...">`:
what coverage.py (`coverage xml`), Jest and Vitest (`cobertura` reporter), coverlet, gocover-cobertura and
JaCoCo-to-Cobertura write. Only the root's attributes are read (a report of a large code base is megabytes of
per-line elements), through defusedxml (entity declarations and DTD tricks refused: the file comes from a run)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import defusedxml.ElementTree as defused
from defusedxml import DefusedXmlException

REPORT_NAMES = ('coverage.xml', 'cobertura.xml')


class NotCoverage(Exception):
    """The file is no Cobertura report (another XML, or not XML at all)."""


@dataclass(frozen=True)
class Coverage:
    percent: float  # 0-100, lines covered
    lines_covered: int | None = None
    lines_valid: int | None = None


def looks_like_coverage(path: str) -> bool:
    name = PurePosixPath(path).name.lower()
    return name in REPORT_NAMES or name.endswith('.cobertura.xml')


def _count(value: str | None) -> int | None:
    try:
        count = int(value) if value is not None else None
    except ValueError:
        return None
    return count if count is not None and count >= 0 else None


def coverage_of(attributes: Mapping[str, str]) -> Coverage:
    """Pure. The root element's attributes: lines-covered / lines-valid when both are there (exact), else
    line-rate (0-1). Anything else is NotCoverage."""
    covered, valid = _count(attributes.get('lines-covered')), _count(attributes.get('lines-valid'))
    if covered is not None and valid and covered <= valid:
        return Coverage(round(100 * covered / valid, 2), covered, valid)
    try:
        rate = float(attributes['line-rate'])
    except (KeyError, ValueError):
        raise NotCoverage('no line-rate on its <coverage> element') from None
    if not 0 <= rate <= 1:
        raise NotCoverage(f'line-rate {rate} is not between 0 and 1')
    return Coverage(round(100 * rate, 2))  # counts missing, or that do not add up: the rate alone


def combined(reports: Sequence[Coverage]) -> Coverage | None:
    """Pure. Several reports (one per package of a monorepo): their lines summed when each counts them, else the
    first one's figure (rates of unknown sizes cannot be averaged honestly)."""
    if not reports:
        return None
    if all(r.lines_valid and r.lines_covered is not None for r in reports):
        covered = sum(r.lines_covered or 0 for r in reports)
        valid = sum(r.lines_valid or 0 for r in reports)
        return Coverage(round(100 * covered / valid, 2), covered, valid)
    return reports[0]


def parse_report(path: Path) -> Coverage:
    """The report's root attributes, read without reading the rest of the file."""
    try:
        for _, element in defused.iterparse(str(path), events=('start',), forbid_dtd=True):
            if element.tag != 'coverage':
                raise NotCoverage(f'its root is <{element.tag}>, not <coverage>')
            return coverage_of(dict(element.attrib))
    except (ET.ParseError, DefusedXmlException) as exc:
        raise NotCoverage(f'not well-formed XML ({type(exc).__name__})') from exc
    raise NotCoverage('empty')


@dataclass
class Parsed:
    coverage: Coverage | None = None
    reports: list[str] | None = None
    problems: list[str] | None = None


def parse_reports(files: list[tuple[str, Path]]) -> Parsed:
    """Every (shown path, file on disk) named like a report; one that is not is named in `problems`."""
    found: list[Coverage] = []
    reports: list[str] = []
    problems: list[str] = []
    for shown, path in files:
        try:
            found.append(parse_report(path))
        except NotCoverage as exc:
            problems.append(f'{shown}: {exc}'[:300])
            continue
        except OSError as exc:
            problems.append(f'{shown}: {exc.strerror or exc}'[:300])
            continue
        reports.append(shown)
    return Parsed(combined(found), reports, problems)
