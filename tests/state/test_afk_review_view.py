"""The AFK review panel's pure words and HTML (app/state/afk_review.py) and the project form's cost cap box
(app/state/project_form.py): an issue's Markdown never carries the author's HTML or script, a diff is text."""

from __future__ import annotations

import pytest

from app.state.afk_review import checks_summary, diff_summary, patch_html, usage_text
from app.state.markdown import markdown_html
from app.state.project_form import ProjectDraft, cost_cap_text, draft_from, parse_cost_cap, update_body


@pytest.mark.parametrize(
    'body, present, absent',
    [
        ('Make **login** work', ['<strong>login</strong>'], []),
        ('<script>alert(1)</script>', ['&lt;script&gt;'], ['<script']),
        ('<img src=x onerror=alert(1)>', ['&lt;img'], ['<img']),
        ('[click](javascript:alert(1))', ['href="#"'], ['javascript:']),
        ('```\n<b>code</b>\n```', ['&lt;b&gt;code&lt;/b&gt;'], ['<b>']),
        ('- [ ] tests\n- [x] docs', ['type="checkbox"'], []),
        ('', [], ['<p>']),
    ],
)
def test_an_issues_markdown_is_rendered_without_its_authors_html(body: str, present: list, absent: list) -> None:
    html = markdown_html(body)
    for text in present:
        assert text in html
    for text in absent:
        assert text not in html


def test_a_patch_is_escaped_text_with_its_lines_marked() -> None:
    html = patch_html('--- a/x\n+++ b/x\n-old <b>\n+new </pre><script>\n same')
    assert '<script>' not in html and '&lt;/pre&gt;&lt;script&gt;' in html
    assert '<span class="del" data-diff-line>-old &lt;b&gt;</span>' in html
    assert '<span class="add" data-diff-line>+new' in html
    assert '<span class="" data-diff-line>+++ b/x</span>' in html  # the file header is no added line


@pytest.mark.parametrize(
    'checks, text',
    [
        ([], 'no checks'),
        ([{'state': 'success'}], '1 check: 1 passed'),
        ([{'state': 'success'}, {'state': 'failure'}, {'state': 'pending'}], '3 checks: 1 passed, 1 failed, 1 pending'),
        ([{'state': 'error'}, {'state': 'warning'}], '2 checks: 1 failed, 1 pending'),
    ],
)
def test_checks_summary(checks: list, text: str) -> None:
    assert checks_summary(checks) == text


def test_diff_summary_and_usage_text() -> None:
    diff = {'source': 'git', 'base': 'main', 'head': 'afk/1', 'files': [{}, {}], 'additions': 3, 'deletions': 1}
    assert diff_summary(diff) == '2 files changed · +3 −1 · git diff main...afk/1'
    assert diff_summary({**diff, 'source': 'forge', 'files': [{}], 'truncated': True}).startswith(
        '1 file changed (more not shown) · +3 −1 · from the forge'
    )
    assert usage_text(None) is None
    assert usage_text({'cost_usd': 0.84, 'input_tokens': 2400, 'output_tokens': 600, 'model': 'm'}) == (
        '$0.84 · 2,400 in / 600 out tokens · m'
    )
    assert usage_text({'cost_usd': 0.1}) == '$0.10'


@pytest.mark.parametrize(
    'text, value',
    [('', None), ('  ', None), ('20', 20.0), ('$20.00', 20.0), ('1,000', 1000.0), ('0.015', 0.01)],
)
def test_the_cost_cap_box_parses(text: str, value: float | None) -> None:
    assert parse_cost_cap(text) == value


@pytest.mark.parametrize('text', ['lots', '0', '-5', 'nan', '2000000'])
def test_the_cost_cap_box_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_cost_cap(text)


def test_the_cost_cap_is_sent_when_changed_and_emptied_removes_it() -> None:
    project = {
        'id': 'p',
        'name': 'P',
        'repository': '/r',
        'base_branch': 'main',
        'command': ['sh', 'run.sh'],
        'depth_levels': ['shallow'],
        'target_frameworks': ['python'],
        'max_concurrent_runs': 2,
        'afk_cost_cap_usd_per_day': 20.0,
    }
    draft = draft_from(project)
    assert draft.afk_cost_cap == cost_cap_text(20.0) == '20.00'
    assert 'afk_cost_cap_usd_per_day' not in update_body(draft, project)[0]  # unchanged: not sent
    draft.afk_cost_cap = ''
    assert update_body(draft, project)[0]['afk_cost_cap_usd_per_day'] is None  # emptied: no cap
    draft.afk_cost_cap = 'x'
    assert 'afk_cost_cap_usd_per_day' in update_body(draft, project)[1]  # the box says what is wrong
    assert ProjectDraft().afk_cost_cap == ''
