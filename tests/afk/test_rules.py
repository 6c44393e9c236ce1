"""Table tests of the pure AFK decisions."""
from __future__ import annotations

import itertools

import pytest

from app.models import RunStatus
from app.services import claims, form_tokens
from app.services.afk_rules import AFK_PAUSE_THRESHOLD, is_paused, should_launch_auto
from app.services.reaper import classify_run, next_failure_count, outcome_of
from app.services.sources import forge

GATES = ('auto_enabled', 'paused', 'auto_run_in_flight', 'under_global_cap', 'claimable_issue')


@pytest.mark.parametrize('values', list(itertools.product([False, True], repeat=5)))
def test_should_launch_auto_only_when_every_gate_is_open(values) -> None:
    facts = dict(zip(GATES, values))
    expected = (facts['auto_enabled'] and not facts['paused'] and not facts['auto_run_in_flight']
                and facts['under_global_cap'] and facts['claimable_issue'])
    assert should_launch_auto(**facts) is expected


@pytest.mark.parametrize('failures, paused', [(0, False), (1, False), (2, False), (3, True), (4, True), (50, True)])
def test_paused_at_the_threshold(failures: int, paused: bool) -> None:
    assert AFK_PAUSE_THRESHOLD == 3
    assert is_paused(failures) is paused


@pytest.mark.parametrize('status, outcome, before, after', [
    (RunStatus.failed, 'failure', 0, 1),
    (RunStatus.timed_out, 'failure', 2, 3),
    (RunStatus.crashed, 'failure', 3, 4),
    (RunStatus.succeeded, 'success', 5, 0),
    (RunStatus.succeeded, 'success', 0, 0),
    (RunStatus.stopped, 'neutral', 2, 2),
    (RunStatus.stopped, 'neutral', 0, 0),
])
def test_reap_moves_the_counter(status: RunStatus, outcome: str, before: int, after: int) -> None:
    assert outcome_of(status.value) == outcome
    assert next_failure_count(before, outcome) == after


@pytest.mark.parametrize('kwargs, status', [
    (dict(exit_code=0), RunStatus.succeeded),
    (dict(exit_code=2), RunStatus.failed),
    (dict(exit_code=None, kill_reason='timeout'), RunStatus.timed_out),
    (dict(exit_code=None, owner_gone=True), RunStatus.crashed),
    (dict(exit_code=None, kill_reason='stop'), RunStatus.stopped),
    # an AFK run's pull request wins over a dead process or a blown budget
    (dict(exit_code=1, has_pull_request=True), RunStatus.succeeded),
    (dict(exit_code=None, kill_reason='timeout', has_pull_request=True), RunStatus.succeeded),
    (dict(exit_code=None, owner_gone=True, has_pull_request=True), RunStatus.succeeded),
])
def test_classify_run(kwargs: dict, status: RunStatus) -> None:
    assert classify_run(**kwargs) == status


@pytest.mark.parametrize('outcome, state', [('success', 'done'), ('failure', 'parked'), ('neutral', 'parked')])
def test_claim_settles_by_outcome(outcome: str, state: str) -> None:
    assert claims.settle_state(outcome) == state


@pytest.mark.parametrize('origin, referer, host, same', [
    ('http://127.0.0.1:8080', None, '127.0.0.1:8080', True),
    (None, 'http://127.0.0.1:8080/projects/x', '127.0.0.1:8080', True),
    ('http://evil.example', 'http://127.0.0.1:8080/', '127.0.0.1:8080', False),  # Origin wins over Referer
    ('null', 'http://127.0.0.1:8080/', '127.0.0.1:8080', True),
    ('null', None, '127.0.0.1:8080', False),
    (None, None, '127.0.0.1:8080', False),
    ('http://127.0.0.1:9999', None, '127.0.0.1:8080', False),
    ('javascript://127.0.0.1:8080', None, '127.0.0.1:8080', False),
])
def test_form_posts_must_come_from_this_server(origin, referer, host, same) -> None:  # noqa: ANN001
    assert form_tokens.same_origin(origin=origin, referer=referer, host=host) is same


@pytest.mark.parametrize('referer, target', [
    ('http://h:1/?tab=2', '/?tab=2'), ('http://h:1/projects/p', '/projects/p'),
    ('http://other:1/phish', '/'), (None, '/'),
])
def test_form_redirect_goes_back_only_to_this_server(referer, target) -> None:  # noqa: ANN001
    assert form_tokens.redirect_target(referer, 'h:1') == target


@pytest.mark.parametrize('repository, source, kind, api_url, owner, repo', [
    ('https://github.com/acme/tool.git', {'kind': 'github'}, 'github', 'https://api.github.com', 'acme', 'tool'),
    ('git@github.com:acme/tool.git', {'kind': 'local'}, 'github', 'https://api.github.com', 'acme', 'tool'),
    ('https://git.example.org/team/svc', {'kind': 'forgejo'}, 'gitea', 'https://git.example.org/api/v1', 'team', 'svc'),
    ('/srv/repo', {'kind': 'gitea', 'api_url': 'http://127.0.0.1:3000/api/v1/', 'owner': 'o', 'repo': 'r'},
     'gitea', 'http://127.0.0.1:3000/api/v1', 'o', 'r'),
])
def test_forge_config_from_repository_and_source(repository, source, kind, api_url, owner, repo) -> None:  # noqa: ANN001
    config = forge.config_for(repository, source)
    assert (config.kind, config.api_url, config.owner, config.repo) == (kind, api_url, owner, repo)


def test_forge_config_token_from_environment(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv('RB_TEST_FORGE_TOKEN', 's3cret')
    config = forge.config_for('https://g.example/o/r', {'kind': 'gitea', 'token_env': 'RB_TEST_FORGE_TOKEN'})
    assert config.token == 's3cret'
    with pytest.raises(forge.ForgeUnavailable) as caught:
        forge.config_for('/local/path', {'kind': 'gitea'})
    assert caught.value.status == 502 and caught.value.error == 'forge_unavailable'
