"""How artifacts and tests read in the UI (state/artifacts_view.py): sizes, which preview, the mark of a failure."""

from __future__ import annotations

import pytest

from app.state import artifacts_view as view


@pytest.mark.parametrize(
    ('item', 'kind'),
    [
        ({'stored': True, 'content_type': 'image/png'}, 'image'),
        ({'stored': True, 'content_type': 'image/svg+xml'}, 'image'),  # shown as <img>: its scripts never run
        ({'stored': True, 'content_type': 'text/html'}, 'html'),  # opened in a new tab, sandboxed
        ({'stored': True, 'content_type': 'text/plain'}, 'text'),
        ({'stored': True, 'content_type': 'application/xml'}, 'text'),
        ({'stored': True, 'content_type': 'application/octet-stream'}, 'none'),
        ({'stored': False, 'content_type': 'image/png'}, 'none'),  # refused: nothing to show
    ],
)
def test_preview_kind(item: dict, kind: str) -> None:
    assert view.preview_kind(item) == kind


@pytest.mark.parametrize(
    ('failure', 'text'),
    [
        ({'mark': 'new'}, 'new'),
        ({'mark': 'still_failing', 'since_run_id': 'run_1'}, 'still failing since run_1'),
        ({'mark': 'flaky', 'since_run_id': 'run_2'}, 'flaky (passed in run_2 on this commit)'),
        ({'mark': None}, ''),
        ({'mark': 'failing_on_base', 'since_run_id': 'run_3'}, 'failing on main too (run_3)'),
        ({'mark': 'fixed', 'since_run_id': 'run_4'}, 'fixed (failed in run_4)'),
    ],
)
def test_mark_text(failure: dict, text: str) -> None:
    assert view.mark_text(failure, 'main') == text


def test_mark_text_without_the_base_branchs_name() -> None:
    assert (
        view.mark_text({'mark': 'failing_on_base', 'since_run_id': 'run_3'}) == 'failing on the base branch too (run_3)'
    )


def test_summary_and_totals() -> None:
    answer = {
        'items': [{'stored': True}, {'stored': True}, {'stored': False}],
        'total_bytes': 2048,
        'limit_bytes': 1024**3,
        'retention_days': 30,
    }
    assert view.artifacts_summary(answer) == '2 kept · 2.0 KB of 1.0 GB · 1 refused · kept 30 days'
    assert view.artifacts_summary({'items': []}).startswith('This run kept no artifacts')
    # retention removed them: they expired, which is not a run that kept nothing
    expired = view.artifacts_summary({'items': [], 'removed_at': '2026-11-29T03:00:00+00:00', 'retention_days': 30})
    assert expired == (
        'The artifacts of this run expired: artifact retention removed them on 2026-11-29. '
        'Its log and test results stay.'
    )
    summary = {'path': 'summary.md', 'stored': True, 'size': 20}
    with_summary = view.artifacts_summary({'items': [summary], 'removed_at': '2026-11-29T03:00:00+00:00'})
    assert with_summary.endswith('Its log, test results and summary stay.')  # retention keeps the summary
    totals = {'total': 4, 'passed': 1, 'failed': 1, 'errors': 1, 'skipped': 1, 'duration_seconds': 1.53}
    # the cases' times added up, and said so: parallel tests sum to more than the run took
    assert (
        view.totals_text(totals) == '4 tests · 1 passed · 1 failed · 1 error · 1 skipped · 1.5 s summed over the tests'
    )
    untimed = {**totals, 'duration_seconds': 0.0}  # a report without times: no "0 ms" for a run that took minutes
    assert view.totals_text(untimed) == '4 tests · 1 passed · 1 failed · 1 error · 1 skipped'


def test_ui_url_quotes_the_path() -> None:
    assert view.ui_url('run_1', 'a b/c#d.png') == '/run-artifacts/run_1/a%20b/c%23d.png'
    assert view.ui_url('run_1', 'r.html', download=True) == '/run-artifacts/run_1/r.html?download=true'


def test_failure_title_shows_bidi_controls() -> None:
    assert view.failure_title({'classname': 'tests.a', 'name': 'test_x'}) == 'tests.a::test_x'
    assert '\u202e' not in view.failure_title({'classname': '', 'name': 'evil\u202etxt'})


@pytest.mark.parametrize(
    ('kind', 'language'),
    [
        ('application/xml', 'xml'),
        ('application/json', 'json'),
        ('text/plain', 'plaintext'),
        ('text/x-log', 'plaintext'),
    ],
)
def test_code_language(kind: str, language: str) -> None:
    assert view.code_language({'content_type': kind}) == language


def test_tests_chart_series() -> None:
    history = [{'run_id': 'run_1', 'total': 5, 'failed': 2}, {'run_id': 'run_2', 'total': 6, 'failed': 0}]
    options = view.tests_chart(history)
    assert options['xAxis']['data'] == ['run_1', 'run_2']  # the tooltip names the run
    assert [s['data'] for s in options['series']] == [[5, 6], [2, 0]]
    assert options['series'][1]['barMaxWidth'] == view.BAR_MAX_WIDTH  # one run is not one wall-wide bar


def test_tests_chart_labels_each_run_with_its_time_in_utc_for_the_browser() -> None:
    history = [
        {'run_id': 'run_1', 'created_at': '2026-06-01T09:05:00.123456', 'total': 5, 'failed': 2},  # naive: UTC
        {'run_id': 'run_2', 'created_at': '2026-06-01T11:05:00+02:00', 'total': 5, 'failed': 2},
        {'run_id': 'run_3', 'total': 5, 'failed': 2},  # no time: its id's end
    ]
    label = view.tests_chart(history)['xAxis']['axisLabel']
    assert label.get('show', True) and label['hideOverlap']
    assert '["2026-06-01T09:05:00Z", "2026-06-01T09:05:00Z", ""]' in label[':formatter']


@pytest.mark.parametrize(
    ('times', 'seconds'),
    [
        ([], False),
        (['2026-06-01T09:05:00Z'], False),
        (['2026-06-01T09:05:00Z', '2026-06-01T09:06:00Z', ''], False),
        (['2026-06-01T09:05:00Z', '2026-06-01T09:05:40Z'], True),  # one minute: told apart by their seconds
        (['2026-06-01T09:05:00Z', '2026-06-02T09:05:00Z'], False),  # the same time on other days
        (['', ''], False),  # no times: their ids' ends
    ],
)
def test_label_seconds(times: list[str], seconds: bool) -> None:
    assert view.label_seconds(times) is seconds
    formatter = view.tests_chart(
        [{'run_id': f'run_{i}', 'created_at': t, 'total': 1, 'failed': 0} for i, t in enumerate(times)]
    )['xAxis']['axisLabel'][':formatter']
    assert ('second:' in formatter) is seconds


@pytest.mark.parametrize(
    ('value', 'iso'),
    [
        (None, ''),
        ('', ''),
        ('2026-06-01T09:05:00', '2026-06-01T09:05:00Z'),
        ('2026-06-01T09:05:00Z', '2026-06-01T09:05:00Z'),
        ('2026-06-01T04:05:00-05:00', '2026-06-01T09:05:00Z'),
    ],
)
def test_utc_iso(value: str | None, iso: str) -> None:
    assert view.utc_iso(value) == iso


@pytest.mark.parametrize(
    ('items', 'found'),
    [
        ([], None),
        ([{'path': 'junit.xml', 'stored': True, 'size': 10}], None),
        ([{'path': 'summary.md', 'stored': True, 'size': 12}], 'summary.md'),
        ([{'path': 'summary.md', 'stored': False, 'size': 9_999_999, 'refused': 'too big'}], None),  # listed, refused
        ([{'path': 'summary.md', 'stored': True, 'size': 0}], None),  # written empty: nothing to show
        ([{'path': 'docs/summary.md', 'stored': True, 'size': 12}], None),  # only the one at the top
    ],
)
def test_the_summary_is_the_kept_summary_md_at_the_top(items: list[dict], found: str | None) -> None:
    item = view.summary_item({'items': items})
    assert (item['path'] if item else None) == found


KEPT = {'path': 'summary.md', 'stored': True, 'size': 12}


@pytest.mark.parametrize(
    ('summary', 'item', 'shown'),
    [
        (None, None, None),  # it wrote none
        ({'text': '### ok ***\n', 'cut': False, 'size': 12}, KEPT, '### ok ***\n'),  # as the API masked it
        (
            {'text': '### ok ***', 'cut': True, 'size': 9_999_999},
            KEPT,
            '### ok ***\n\n… (the rest: its artifact summary.md)',
        ),
        ({'text': '### ok', 'cut': False, 'size': 6}, None, '### ok'),  # its artifact expired or was lost: still shown
        (None, KEPT, view.OLD_SUMMARY),  # kept before summaries were masked: never the file itself
    ],
)
def test_the_summary_shown_is_the_masked_one(summary: dict | None, item: dict | None, shown: str | None) -> None:
    assert view.summary_text(summary, item) == shown


@pytest.mark.parametrize(
    ('answer', 'text'),
    [
        ({}, ''),
        ({'failures': [{'mark': 'new'}]}, '1 new failure'),
        ({'failures': [{'mark': 'new'}, {'mark': 'new'}, {'mark': 'flaky'}]}, '2 new failures · 1 flaky'),
        (
            {'failures': [{'mark': 'failing_on_base'}] * 2, 'fixed': [{}], 'base_branch': 'develop'},
            '2 failing on develop too · 1 fixed',
        ),
        ({'failures': [{'mark': 'still_failing'}], 'fixed': [{}, {}]}, '1 still failing · 2 fixed'),
        ({'failures': [{'mark': 'failing_on_base'}]}, '1 failing on the base branch too'),
        # a first run: nothing to compare with, so nothing is called new
        (
            {'failures': [{'mark': None}, {}], 'compared_with': None},
            '2 failures with no earlier run at this depth level and framework to compare with',
        ),
        (
            {'failures': [{'mark': 'flaky'}, {'mark': None}]},  # a later retry on its commit passed one
            '1 flaky · 1 failure with no earlier run at this depth level and framework to compare with',
        ),
    ],
)
def test_comparison_text(answer: dict, text: str) -> None:
    assert view.comparison_text(answer) == text


@pytest.mark.parametrize(
    ('coverage', 'text'),
    [
        (None, ''),
        ({'percent': 87.3}, 'Coverage 87.30 %'),
        ({'percent': 87.27, 'lines_covered': 1234, 'lines_valid': 1414}, 'Coverage 87.27 % (1,234 of 1,414 lines)'),
        ({'percent': 90.0, 'compared_with': 'run_1', 'change': 2.5}, 'Coverage 90.00 % · +2.50 against run_1'),
        ({'percent': 90.0, 'compared_with': 'run_1', 'change': -0.25}, 'Coverage 90.00 % · -0.25 against run_1'),
        ({'percent': 90.0, 'compared_with': 'run_1', 'change': 0.0}, 'Coverage 90.00 % · unchanged against run_1'),
        ({'percent': 90.0, 'compared_with': None, 'change': None}, 'Coverage 90.00 %'),
    ],
)
def test_coverage_text(coverage: dict | None, text: str) -> None:
    assert view.coverage_text(coverage) == text


def _point(run_id: str, percent: float, depth: str = 'quick', framework: str = 'python') -> dict:
    return {'run_id': run_id, 'percent': percent, 'depth_level': depth, 'target_framework': framework}


@pytest.mark.parametrize(
    ('points', 'text'),
    [
        ([], ''),
        ([_point('run_1', 80.0)], 'Coverage on main 80.00 %'),
        ([_point('run_1', 80.0), _point('run_2', 81.25)], 'Coverage on main 81.25 % · +1.25 since run_1'),
        ([_point('run_1', 80.0), _point('run_2', 80.0)], 'Coverage on main 80.00 % · unchanged since run_1'),
        # compared with the last run of the same depth level and framework, not the last run
        (
            [_point('run_1', 80.0), _point('run_2', 40.0, depth='deep'), _point('run_3', 79.5)],
            'Coverage on main 79.50 % · -0.50 since run_1',
        ),
        ([_point('run_1', 80.0), _point('run_2', 40.0, framework='node')], 'Coverage on main 40.00 %'),
    ],
)
def test_coverage_trend_text(points: list[dict], text: str) -> None:
    assert view.coverage_trend_text('main', points) == text


def test_coverage_chart_has_a_line_per_depth_and_framework_with_gaps_elsewhere() -> None:
    points = [_point('run_1', 80.0), _point('run_2', 40.0, depth='deep'), _point('run_3', 82.0)]
    options = view.coverage_chart(points)
    assert options['xAxis']['data'] == ['run_1', 'run_2', 'run_3']
    assert {s['name']: s['data'] for s in options['series']} == {
        'deep · python': [None, 40.0, None],
        'quick · python': [80.0, None, 82.0],
    }
    assert (options['yAxis']['min'], options['yAxis']['max']) == (0, 100)
    # each run under its date and time, as on the tests chart (it had no labels at all)
    assert options['xAxis']['axisLabel'] == view.runs_axis(points)['axisLabel']
    assert 'hideOverlap' in options['xAxis']['axisLabel'] and 'show' not in options['xAxis']['axisLabel']


@pytest.mark.parametrize(
    ('answer', 'text'),
    [
        ({'has_report': False, 'totals': {}, 'coverage': None}, ''),
        ({'has_report': True, 'totals': {'total': 1200, 'passed': 1200}}, '1,200 tests passed'),
        ({'has_report': True, 'totals': {'total': 120, 'failed': 1, 'errors': 1}}, '2 of 120 tests failed'),
        (
            {'has_report': False, 'totals': {}, 'coverage': {'percent': 87.3, 'compared_with': 'run_1', 'change': 1.2}},
            'coverage 87.30 % (+1.20)',
        ),
        (
            {
                'has_report': True,
                'totals': {'total': 3},
                'coverage': {'percent': 50, 'compared_with': 'r', 'change': 0},
            },
            '3 tests passed · coverage 50.00 % (unchanged)',
        ),
        ({'has_report': True, 'totals': {}, 'coverage': {'percent': 50.0}}, '0 tests passed · coverage 50.00 %'),
    ],
)
def test_results_text_for_the_run_header(answer: dict, text: str) -> None:
    assert view.results_text(answer) == text


@pytest.mark.parametrize(
    ('preview', 'text', 'note'),
    [
        (  # masked: the download still holds the value, and the tab says so
            {'text': 'token=***\n', 'cut': False, 'masked': True, 'checked': True},
            'token=***\n',
            "Secrets masked in this preview, as in the run's log; the download is the file as the run wrote it.",
        ),
        ({'text': 'plain\n', 'cut': False, 'masked': False, 'checked': True}, 'plain\n', None),  # nothing to mask
        (  # kept before previews were masked: shown as written, and said
            {'text': 'old\n', 'cut': True, 'masked': False, 'checked': False},
            'old\n\n… (the rest: Download)',
            'Kept before Runboard masked previews: shown as the run wrote it.',
        ),
    ],
)
def test_a_text_preview_and_what_it_says_above_it(preview: dict, text: str, note: str | None) -> None:
    assert view.preview_text(preview) == text
    assert view.preview_note(preview) == note
