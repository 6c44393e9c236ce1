"""Table tests of the pure AFK decisions."""

from __future__ import annotations

import pytest

from app.models import RunStatus
from app.models.schemas import token_env_problem
from app.services.afk.rules import (
    AFK_PAUSE_THRESHOLD,
    Settlement,
    closed_gate,
    feeds_counter,
    is_paused,
    settle_afk_run,
    should_launch_auto,
)
from app.services.execution.reaper import classify_run
from app.services.identity import form_tokens
from app.services.repositories import forge

T, F = True, False


# Every combination of the six gates with its expected answer written out: only the row with auto on,
# not paused, no loop run in flight, under the cap, an issue to claim and no launch failure launches.
@pytest.mark.parametrize(
    'auto_enabled, paused, loop_run_in_flight, under_global_cap, claimable_issue, launch_blocked, launches',
    [
        (F, F, F, F, F, F, F),
        (F, F, F, F, F, T, F),
        (F, F, F, F, T, F, F),
        (F, F, F, F, T, T, F),
        (F, F, F, T, F, F, F),
        (F, F, F, T, F, T, F),
        (F, F, F, T, T, F, F),
        (F, F, F, T, T, T, F),
        (F, F, T, F, F, F, F),
        (F, F, T, F, F, T, F),
        (F, F, T, F, T, F, F),
        (F, F, T, F, T, T, F),
        (F, F, T, T, F, F, F),
        (F, F, T, T, F, T, F),
        (F, F, T, T, T, F, F),
        (F, F, T, T, T, T, F),
        (F, T, F, F, F, F, F),
        (F, T, F, F, F, T, F),
        (F, T, F, F, T, F, F),
        (F, T, F, F, T, T, F),
        (F, T, F, T, F, F, F),
        (F, T, F, T, F, T, F),
        (F, T, F, T, T, F, F),
        (F, T, F, T, T, T, F),
        (F, T, T, F, F, F, F),
        (F, T, T, F, F, T, F),
        (F, T, T, F, T, F, F),
        (F, T, T, F, T, T, F),
        (F, T, T, T, F, F, F),
        (F, T, T, T, F, T, F),
        (F, T, T, T, T, F, F),
        (F, T, T, T, T, T, F),
        (T, F, F, F, F, F, F),
        (T, F, F, F, F, T, F),
        (T, F, F, F, T, F, F),
        (T, F, F, F, T, T, F),
        (T, F, F, T, F, F, F),
        (T, F, F, T, F, T, F),
        (T, F, F, T, T, F, T),
        (T, F, F, T, T, T, F),
        (T, F, T, F, F, F, F),
        (T, F, T, F, F, T, F),
        (T, F, T, F, T, F, F),
        (T, F, T, F, T, T, F),
        (T, F, T, T, F, F, F),
        (T, F, T, T, F, T, F),
        (T, F, T, T, T, F, F),
        (T, F, T, T, T, T, F),
        (T, T, F, F, F, F, F),
        (T, T, F, F, F, T, F),
        (T, T, F, F, T, F, F),
        (T, T, F, F, T, T, F),
        (T, T, F, T, F, F, F),
        (T, T, F, T, F, T, F),
        (T, T, F, T, T, F, F),
        (T, T, F, T, T, T, F),
        (T, T, T, F, F, F, F),
        (T, T, T, F, F, T, F),
        (T, T, T, F, T, F, F),
        (T, T, T, F, T, T, F),
        (T, T, T, T, F, F, F),
        (T, T, T, T, F, T, F),
        (T, T, T, T, T, F, F),
        (T, T, T, T, T, T, F),
    ],
)
def test_should_launch_auto(
    auto_enabled: bool,
    paused: bool,
    loop_run_in_flight: bool,
    under_global_cap: bool,
    claimable_issue: bool,
    launch_blocked: bool,
    launches: bool,
) -> None:
    assert (
        should_launch_auto(
            auto_enabled=auto_enabled,
            paused=paused,
            loop_run_in_flight=loop_run_in_flight,
            under_global_cap=under_global_cap,
            claimable_issue=claimable_issue,
            launch_blocked=launch_blocked,
        )
        is launches
    )


@pytest.mark.parametrize('failures, paused', [(0, False), (1, False), (2, False), (3, True), (4, True), (50, True)])
def test_paused_at_the_threshold(failures: int, paused: bool) -> None:
    assert AFK_PAUSE_THRESHOLD == 3
    assert is_paused(failures) is paused


@pytest.mark.parametrize(
    'kind, feeds',
    [
        ('auto', True),  # loop-started and hand-started AFK runs
        ('manual', False),  # pipeline runs from the Run form
        ('retry', False),
        ('scheduled', False),  # fired by a schedule: a pipeline run too
    ],
)
def test_only_afk_runs_feed_the_counter(kind: str, feeds: bool) -> None:
    assert feeds_counter(kind) is feeds


@pytest.mark.parametrize(
    'status, launch_failed, counter, claim',
    [
        ('succeeded', False, 'reset', 'done'),  # exit 0, or its afk/<N> pull request exists
        ('failed', False, 'add', 'park'),  # exit without a PR: the agent's failure
        ('timed_out', False, 'add', 'park'),  # budget blown
        ('failed', True, 'keep', 'release'),  # the command or checkout could not start: nothing ran
        ('crashed', False, 'keep', 'release'),  # server restart, lost worker: not the agent's failure
        ('stopped', False, 'keep', 'park'),  # a person's Stop: neutral, the person decides what next
        ('expired', False, 'keep', 'release'),  # its queue TTL passed before it started: nothing ran
    ],
)
def test_settle_afk_run(status: str, launch_failed: bool, counter: str, claim: str) -> None:
    assert settle_afk_run(status, launch_failed=launch_failed) == Settlement(counter, claim)


@pytest.mark.parametrize(
    'kwargs, status',
    [
        (dict(exit_code=0), RunStatus.succeeded),
        (dict(exit_code=2), RunStatus.failed),
        (dict(exit_code=None, kill_reason='timeout'), RunStatus.timed_out),
        (dict(exit_code=None, owner_gone=True), RunStatus.crashed),
        (dict(exit_code=None, kill_reason='stop'), RunStatus.stopped),
        # an AFK run's pull request wins over a dead process or a blown budget
        (dict(exit_code=1, has_pull_request=True), RunStatus.succeeded),
        (dict(exit_code=None, kill_reason='timeout', has_pull_request=True), RunStatus.succeeded),
        (dict(exit_code=None, owner_gone=True, has_pull_request=True), RunStatus.succeeded),
        # a live AFK run ended by the reaper because its pull request appeared
        (dict(exit_code=-15, kill_reason='pull_request', has_pull_request=True), RunStatus.succeeded),
    ],
)
def test_classify_run(kwargs: dict, status: RunStatus) -> None:
    assert classify_run(**kwargs) == status


@pytest.mark.parametrize(
    'origin, referer, host, same',
    [
        ('http://127.0.0.1:8080', None, '127.0.0.1:8080', True),
        (None, 'http://127.0.0.1:8080/projects/x', '127.0.0.1:8080', True),
        ('http://evil.example', 'http://127.0.0.1:8080/', '127.0.0.1:8080', False),  # Origin wins over Referer
        ('null', 'http://127.0.0.1:8080/', '127.0.0.1:8080', True),
        ('null', None, '127.0.0.1:8080', False),
        (None, None, '127.0.0.1:8080', False),
        ('http://127.0.0.1:9999', None, '127.0.0.1:8080', False),
        ('javascript://127.0.0.1:8080', None, '127.0.0.1:8080', False),
    ],
)
def test_form_posts_must_come_from_this_server(origin, referer, host, same) -> None:  # noqa: ANN001
    assert form_tokens.same_origin(origin=origin, referer=referer, host=host) is same


@pytest.mark.parametrize(
    'referer, target',
    [
        ('http://h:1/?tab=2', '/?tab=2'),
        ('http://h:1/projects/p', '/projects/p'),
        ('http://other:1/phish', '/'),
        (None, '/'),
    ],
)
def test_form_redirect_goes_back_only_to_this_server(referer, target) -> None:  # noqa: ANN001
    assert form_tokens.redirect_target(referer, 'h:1') == target


@pytest.mark.parametrize(
    'repository, source, kind, api_url, owner, repo',
    [
        ('https://github.com/acme/tool.git', {'kind': 'github'}, 'github', 'https://api.github.com', 'acme', 'tool'),
        ('git@github.com:acme/tool.git', {'kind': 'local'}, 'github', 'https://api.github.com', 'acme', 'tool'),
        (
            'https://git.example.org/team/svc',
            {'kind': 'forgejo'},
            'gitea',
            'https://git.example.org/api/v1',
            'team',
            'svc',
        ),
        (
            '/srv/repo',
            {'kind': 'gitea', 'api_url': 'http://127.0.0.1:3000/api/v1/', 'owner': 'o', 'repo': 'r'},
            'gitea',
            'http://127.0.0.1:3000/api/v1',
            'o',
            'r',
        ),
    ],
)
def test_forge_config_from_repository_and_source(repository, source, kind, api_url, owner, repo) -> None:  # noqa: ANN001
    config = forge.config_for(repository, source)
    assert (config.kind, config.api_url, config.owner, config.repo) == (kind, api_url, owner, repo)


def test_forge_config_token_from_environment(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv('RUNBOARD_FORGE_TOKEN_TEST', 's3cret')
    config = forge.config_for('https://g.example/o/r', {'kind': 'gitea', 'token_env': 'RUNBOARD_FORGE_TOKEN_TEST'})
    assert config.token == 's3cret'
    # any other server variable is not a project's to read (its database URL, its secret key)
    monkeypatch.setenv('RUNBOARD_DATABASE_URL', 'postgresql://u:hunter2@db/x')
    with pytest.raises(forge.ForgeUnavailable) as refused:
        forge.config_for('https://g.example/o/r', {'kind': 'gitea', 'token_env': 'RUNBOARD_DATABASE_URL'})
    assert 'RUNBOARD_FORGE_TOKEN_<NAME>' in refused.value.detail and 'hunter2' not in refused.value.detail
    with pytest.raises(forge.ForgeUnavailable) as caught:
        forge.config_for('/local/path', {'kind': 'gitea'})
    assert caught.value.status == 502 and caught.value.error == 'forge_unavailable'


@pytest.mark.parametrize(
    ('name', 'readable'),
    [
        ('RUNBOARD_FORGE_TOKEN_GITEA', True),
        ('RUNBOARD_FORGE_TOKEN_A_1', True),
        ('RUNBOARD_FORGE_TOKEN_', False),
        ('RUNBOARD_SECRET_KEY', False),
        ('RUNBOARD_DATABASE_URL', False),
        ('GITEA_TOKEN', False),
        ('runboard_forge_token_x', False),
        ('RUNBOARD_FORGE_TOKEN_X\n', False),
        (3, False),
    ],
)
def test_which_server_variables_a_token_env_may_name(name: object, readable: bool) -> None:
    assert (token_env_problem(name) is None) is readable


@pytest.mark.parametrize(
    'auto_enabled, paused, in_flight, under_cap, blocked, gate',
    [
        (True, False, False, True, False, None),
        (False, False, False, True, False, 'auto_off'),
        (True, True, False, True, False, 'paused'),
        (True, False, True, True, False, 'in_flight'),
        (True, False, False, False, False, 'global_cap'),
        (True, False, False, True, True, 'launch_failed'),
        # several closed: the cap first (it ends the whole sweep), then the project's own lane
        (False, True, True, False, True, 'global_cap'),
        (False, True, True, True, True, 'in_flight'),
        (False, True, False, True, True, 'paused'),
        (False, False, False, True, True, 'launch_failed'),
    ],
)
def test_closed_gate_names_the_gate_the_launch_transaction_reports(
    auto_enabled: bool, paused: bool, in_flight: bool, under_cap: bool, blocked: bool, gate: str | None
) -> None:
    assert (
        closed_gate(
            auto_enabled=auto_enabled,
            paused=paused,
            loop_run_in_flight=in_flight,
            under_global_cap=under_cap,
            launch_blocked=blocked,
        )
        == gate
    )
