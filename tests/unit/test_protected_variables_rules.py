"""Which runs receive a project's protected variables (pure; docs/security.md, "Protected variables")."""

from __future__ import annotations

import pytest

from app.services.execution.execution import withheld_note
from app.services.projects.variables import gets_protected, protected_branch


@pytest.mark.parametrize(
    ('branch', 'patterns', 'protected'),
    [
        ('main', None, True),  # none named: the base branch alone
        ('feature/x', None, False),
        ('main-old', None, False),
        ('release/1', ['main', 'release/*'], True),
        ('release/1/rc', ['main', 'release/*'], False),  # * stays within one level
        ('release/1/rc', ['release/**'], True),
        ('main', ['release/*'], False),  # named ones replace the base branch
        ('release/old', ['release/*', '!release/old'], False),  # the last matching pattern decides
    ],
)
def test_protected_branch(branch: str, patterns: list[str] | None, protected: bool) -> None:
    assert protected_branch(branch, base_branch='main', patterns=patterns) is protected


@pytest.mark.parametrize(
    ('kind', 'branch', 'given'),
    [
        ('manual', 'main', True),
        ('push', 'main', True),
        ('scheduled', 'main', True),
        ('retry', 'main', True),
        ('pull_request', 'main', False),  # a pull request's code, whatever its branch is called
        ('manual', 'feature/x', False),
        ('auto', 'agent/issue-7', False),
    ],
)
def test_gets_protected(kind: str, branch: str, given: bool) -> None:
    assert gets_protected(kind=kind, branch=branch, base_branch='main', patterns=None) is given


def test_withheld_note() -> None:
    assert withheld_note(['A', 'B'], 'feature/x', 'manual') == (
        'Protected variables not given to this run (branch feature/x is not protected): A, B'
    )
    assert withheld_note(['A'], 'main', 'pull_request') == (
        "Protected variables not given to this run (a pull request's run): A"
    )
    many = withheld_note([f'V{i}' for i in range(12)], 'x', 'manual')
    assert many.endswith('V9 and 2 more')
