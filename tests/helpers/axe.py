"""axe-core (the npm package, installed into tests/e2e/axe by scripts/bootstrap.sh test) run inside a page that
Playwright shows: the serious and critical violations of WCAG 2.1 A and AA, one line per element."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tests.helpers.servers import ROOT

AXE_JS = ROOT / 'tests' / 'e2e' / 'axe' / 'node_modules' / 'axe-core' / 'axe.min.js'
WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']
BLOCKING = ('serious', 'critical')

RUN = """async ([tags, blocking]) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.filter(v => blocking.includes(v.impact)).map(v => ({
    rule: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 160),
                              summary: (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 240)})),
  }));
}"""


@dataclass(frozen=True)
class Violation:
    where: str  # the page and its mode, e.g. '/workers dark 390px'
    rule: str
    impact: str
    target: str
    html: str
    summary: str

    def line(self) -> str:
        return f'{self.where}: {self.impact} {self.rule} at {self.target} {self.html}: {self.summary}'


def axe_violations(page, where: str) -> list[Violation]:  # noqa: ANN001
    """The serious and critical WCAG 2.1 A/AA violations axe-core finds in the page as it stands now."""
    if not AXE_JS.exists():
        raise AssertionError(f'{AXE_JS} is missing: bash scripts/bootstrap.sh test installs axe-core')
    if not page.evaluate('() => typeof window.axe !== "undefined"'):
        page.add_script_tag(path=str(AXE_JS))
    found = page.evaluate(RUN, [WCAG_TAGS, list(BLOCKING)])
    return [
        Violation(where, item['rule'], item['impact'], node['target'], node['html'], node['summary'])
        for item in found
        for node in item['nodes']
    ]


def by_rule(violations: list[Violation]) -> str:
    """'color-contrast (serious): 27 elements, ...' for a report or an assertion message."""
    counts = Counter((v.rule, v.impact) for v in violations)
    return ', '.join(f'{rule} ({impact}): {n}' for (rule, impact), n in counts.most_common()) or 'none'
