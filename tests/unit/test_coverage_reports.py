"""Cobertura coverage (services/artifacts/coverage.py): which files are reports, the figure from the root element's
attributes, several reports combined, and files that are not reports (or try an XML bomb) refused with why."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.services.artifacts.coverage import (
    Coverage,
    NotCoverage,
    combined,
    coverage_of,
    looks_like_coverage,
    parse_report,
    parse_reports,
)


@pytest.mark.parametrize(
    ('path', 'is_report'),
    [
        ('coverage.xml', True),
        ('reports/Coverage.xml', True),
        ('cobertura.xml', True),
        ('web/unit.cobertura.xml', True),
        ('junit.xml', False),
        ('coverage.json', False),
        ('coverage.xml.bak', False),
        ('lcov.info', False),
    ],
)
def test_looks_like_coverage(path: str, is_report: bool) -> None:
    assert looks_like_coverage(path) is is_report


@pytest.mark.parametrize(
    ('attributes', 'figure'),
    [
        ({'line-rate': '0.873'}, Coverage(87.3)),
        ({'line-rate': '1'}, Coverage(100.0)),
        ({'line-rate': '0'}, Coverage(0.0)),
        # the counts are exact where the rate is rounded (coverage.py writes line-rate to 4 places)
        ({'line-rate': '0.8726', 'lines-covered': '1234', 'lines-valid': '1414'}, Coverage(87.27, 1234, 1414)),
        ({'line-rate': '0.5', 'lines-covered': '0', 'lines-valid': '0'}, Coverage(50.0)),  # nothing to count
        ({'line-rate': '0.5', 'lines-covered': 'x', 'lines-valid': '10'}, Coverage(50.0)),
        ({'line-rate': '0.5', 'lines-covered': '11', 'lines-valid': '10'}, Coverage(50.0)),  # counts that do not add up
    ],
)
def test_coverage_of(attributes: dict[str, str], figure: Coverage) -> None:
    assert coverage_of(attributes) == figure


@pytest.mark.parametrize('attributes', [{}, {'line-rate': 'high'}, {'line-rate': '1.5'}, {'line-rate': '-0.1'}])
def test_coverage_of_refuses_what_is_no_figure(attributes: dict[str, str]) -> None:
    with pytest.raises(NotCoverage):
        coverage_of(attributes)


@pytest.mark.parametrize(
    ('reports', 'figure'),
    [
        ([], None),
        ([Coverage(80.0, 80, 100)], Coverage(80.0, 80, 100)),
        ([Coverage(80.0, 80, 100), Coverage(50.0, 150, 300)], Coverage(57.5, 230, 400)),  # lines summed
        ([Coverage(80.0), Coverage(50.0, 150, 300)], Coverage(80.0)),  # sizes unknown: the first, not an average
    ],
)
def test_combined(reports: list[Coverage], figure: Coverage | None) -> None:
    assert combined(reports) == figure


def write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


def test_a_report_is_read_from_its_root_and_other_files_are_named_with_why(tmp_path: Path) -> None:
    good = write(
        tmp_path,
        'coverage.xml',
        '<?xml version="1.0" ?>\n<coverage version="7.6" line-rate="0.75" lines-covered="3" lines-valid="4">'
        '<packages><package name="app">' + '<class name="x"/>' * 1000 + '</package></packages></coverage>',
    )
    assert parse_report(good) == Coverage(75.0, 3, 4)
    junit = write(tmp_path, 'cobertura.xml', '<testsuite tests="1"/>')
    broken = write(tmp_path, 'b.cobertura.xml', '<coverage line-rate="0.5"')
    bomb = write(
        tmp_path,
        'bomb.cobertura.xml',
        '<?xml version="1.0"?><!DOCTYPE coverage [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        '<coverage line-rate="&b;"/>',
    )
    parsed = parse_reports(
        [
            ('coverage.xml', good),
            ('cobertura.xml', junit),
            ('b.cobertura.xml', broken),
            ('bomb.cobertura.xml', bomb),
            ('gone.cobertura.xml', tmp_path / 'gone'),
        ]
    )
    assert parsed.coverage == Coverage(75.0, 3, 4) and parsed.reports == ['coverage.xml']
    problems = parsed.problems or []
    assert problems[0] == 'cobertura.xml: its root is <testsuite>, not <coverage>'
    assert problems[1].startswith('b.cobertura.xml: not well-formed XML')
    assert problems[2].startswith('bomb.cobertura.xml: not well-formed XML (DTDForbidden')
    assert problems[3].startswith('gone.cobertura.xml: No such file')
