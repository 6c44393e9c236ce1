"""Which `action` filters the audit log takes (pure): an action, a group of actions, or a 422 naming the close ones."""

from __future__ import annotations

import pytest

from app.models.vocabulary import AUDIT_ACTIONS
from app.services.identity.audit import AUDIT_GROUPS, unknown_action_refusal


@pytest.mark.parametrize('action', ['run.stopped', 'webhook.secret_rotated', 'run', 'project', 'project.variable'])
def test_known_actions_and_groups_pass(action: str) -> None:
    assert unknown_action_refusal(action) is None


@pytest.mark.parametrize(
    ('action', 'close'),
    [
        ('run.stoped', ['run.stopped']),
        ('runs', ['run']),
        ('webhooks', ['webhook']),
        ('Run.Stopped', ['run.stopped']),
        ('afk.rest', ['afk.reset']),
        ('TYPO', []),
        ('stopped', []),
        ('run.', ['run']),
    ],
)
def test_an_unknown_action_is_refused_with_the_close_ones(action: str, close: list[str]) -> None:
    refusal = unknown_action_refusal(action)
    assert refusal is not None
    assert (refusal.status, refusal.error, refusal.field) == (422, 'unknown_audit_action', 'action')
    assert refusal.extra['close_matches'] == close
    assert refusal.extra['known_actions'] == list(AUDIT_ACTIONS)
    if not refusal.extra['close_matches']:  # nothing near: the detail lists what there is
        assert all(known in refusal.detail for known in (*AUDIT_GROUPS, *AUDIT_ACTIONS))


def test_the_groups_are_the_actions_prefixes() -> None:
    assert AUDIT_GROUPS[:3] == ('run', 'afk', 'project')
    assert {'project.variable', 'project.secret'} <= set(AUDIT_GROUPS)
    assert all(any(action.startswith(group + '.') for action in AUDIT_ACTIONS) for group in AUDIT_GROUPS)
