"""The "Runs on push" panel's text <-> the PATCH body (app/state/push_rules.py), without a browser."""

from __future__ import annotations

import pytest

from app.state.push_rules import PushDraft, how_pushes_are_seen, patterns, push_body, push_draft, rules_summary

PROJECT = {'id': 'demo', 'depth_levels': ['shallow', 'deep'], 'target_frameworks': ['python', 'go']}


def test_patterns_one_a_line_or_with_commas() -> None:
    assert patterns('main, release/*\n!wip/*\n\n') == ['main', 'release/*', '!wip/*']
    assert patterns('') == []


def test_a_project_without_rules_reads_as_off_with_its_first_choices() -> None:
    draft = push_draft(PROJECT)
    assert draft == PushDraft(depth_level='shallow', target_framework='python')
    assert rules_summary(PROJECT) == 'Off: pushes start no run.'


def test_round_trip() -> None:
    draft = PushDraft(
        enabled=True,
        branches='main\nrelease/*\n!release/old',
        paths='src/**',
        depth_level='deep',
        target_framework='go',
        pull_requests=True,
    )
    body, problems = push_body(draft, PROJECT)
    assert problems == {}
    assert body == {
        'on_push': {
            'enabled': True,
            'branches': ['main', 'release/*', '!release/old'],
            'paths': ['src/**'],
            'pull_requests': True,
            'cancel_in_progress': True,
            'cancel_running': False,
            'depth_level': 'deep',
            'target_framework': 'go',
        }
    }
    stored = {**PROJECT, 'on_push': body['on_push']}
    assert push_draft(stored) == draft
    assert rules_summary(stored) == 'On: pushes to main, release/*, !release/old and pull requests start a run.'


def test_only_exclusions_are_a_problem_and_off_without_branches_clears() -> None:
    _, problems = push_body(PushDraft(enabled=True, branches='!wip/*'), PROJECT)
    assert 'branches' in problems
    assert push_body(PushDraft(enabled=False, branches=''), PROJECT) == ({'on_push': None}, {})


def test_a_stored_matrix_is_kept() -> None:
    matrix = {'depth_level': ['shallow', 'deep'], 'target_framework': ['go']}
    project = {**PROJECT, 'on_push': {'branches': ['main'], 'matrix': matrix}}
    body, _ = push_body(push_draft(project), project)
    assert body['on_push']['matrix'] == matrix and 'depth_level' not in body['on_push']


def test_a_runs_pull_request_and_push_in_words() -> None:
    from app.state.push_rules import pull_request_link, push_text

    pr = {'kind': 'pull_request', 'commit_sha': 'abcdef123', 'pusher': 'dee', 'pr_number': 12, 'pr_title': 'Add it'}
    assert pull_request_link({**pr, 'pr_url': 'https://forge.example/pull/12'}) == (
        '#12 Add it',
        'https://forge.example/pull/12',
    )
    assert pull_request_link({**pr, 'pr_url': 'javascript:alert(1)'}) == ('#12 Add it', None)  # no link then
    assert pull_request_link({'kind': 'manual'}) is None
    assert push_text(pr) == 'pull request head · by dee'  # the commit is said beside it, as for every run
    assert push_text({'kind': 'push', 'commit_sha': 'abcdef123', 'pusher': None}) == 'pushed'
    assert push_text({'kind': 'manual'}) is None


def test_the_commit_status_log_in_words() -> None:
    from app.state.push_rules import status_log_text

    assert status_log_text([]) is None
    rows = [
        {
            'id': 'cst_2',
            'state': 'success',
            'status': 'failed',
            'last_error': 'HTTP 500',
            'context': 'runboard/w (push)',
        },
        {'id': 'cst_1', 'state': 'pending', 'status': 'delivered', 'last_error': None, 'context': 'runboard/w (push)'},
    ]
    assert status_log_text(rows) == 'forge check runboard/w (push): pending ✓ · success … retrying (HTTP 500)'


@pytest.mark.parametrize(
    ('rows', 'ended', 'settled'),
    [
        ([], False, True),  # nothing posted: no forge for this project
        ([('pending', 'pending')], False, False),  # being posted
        ([('pending', 'delivered')], False, True),  # the run goes on: its next state comes with a header redraw
        ([('pending', 'delivered')], True, False),  # ended: its end state is still to be recorded
        ([('pending', 'superseded'), ('success', 'failed')], True, False),  # the end state is being retried
        ([('pending', 'delivered'), ('success', 'delivered')], True, True),
        ([('pending', 'delivered'), ('failure', 'gave_up')], True, True),  # given up: the line says so
    ],
)
def test_the_commit_status_line_reads_again_until_every_state_is_settled(
    rows: list, ended: bool, settled: bool
) -> None:
    from app.state.push_rules import status_log_settled

    log = [{'state': state, 'status': status} for state, status in rows]
    assert status_log_settled(log, run_ended=ended) is settled


@pytest.mark.parametrize(
    ('repository', 'seen'),
    [
        ('/srv/git/app', 'within seconds: the server watches its branches'),
        ('https://github.com/team/app.git', 'seen by the forge webhook below or by the next mirror fetch'),
        ('git@github.com:team/app.git', 'seen by the forge webhook below or by the next mirror fetch'),
        ('file:///srv/git/app', 'seen by the forge webhook below or by the next mirror fetch'),  # read through a mirror
    ],
)
def test_the_push_panel_says_how_a_push_is_seen(repository: str, seen: str) -> None:
    assert seen in how_pushes_are_seen(repository)
