"""Table test for the checkout's one decision: whether a local repository's mirror is fetched before a run's
checkout is tried (a checkout that finds the admitted commit missing fetches then)."""

from __future__ import annotations

import pytest

from app.services.execution.checkout import needs_fetch


@pytest.mark.parametrize(
    ('mirror_exists', 'admitted', 'expected'),
    [
        (False, 'abc123', True),  # the first run of a repository: the mirror is cloned
        (True, 'abc123', False),  # the checkout is tried at once: no fetch, no mirror lock
        (True, None, True),  # admitted without a commit (a delayed run): its branch as it is now
        (False, None, True),
    ],
)
def test_needs_fetch(mirror_exists, admitted, expected) -> None:  # noqa: ANN001
    assert needs_fetch(mirror_exists=mirror_exists, admitted=admitted) is expected
