"""`runboard projects edit --on-push…`: the options over the stored push rules (app/cli/projects.on_push_rules),
pure; and the options' help names values, not types."""

from __future__ import annotations

import pytest
import typer

from app.cli.projects import on_push_rules

STORED = {'branches': ['main'], 'paths': [], 'depth_level': 'deep', 'target_framework': 'go', 'pull_requests': False}


def options(**given: object) -> dict:
    names = ('on_push', 'on_push_paths', 'on_push_depth', 'on_push_framework', 'on_push_matrix')
    names += ('on_push_pull_requests', 'cancel_in_progress')
    return {name: given.get(name) for name in names}


def test_no_push_option_changes_nothing() -> None:
    assert on_push_rules(STORED, options()) is None


def test_given_fields_replace_the_stored_ones() -> None:
    rules = on_push_rules(STORED, options(on_push=['main', 'release/*', '!release/old'], on_push_pull_requests=True))
    assert rules == {**STORED, 'branches': ['main', 'release/*', '!release/old'], 'pull_requests': True}
    assert on_push_rules(STORED, options(cancel_in_progress=False))['cancel_in_progress'] is False  # type: ignore[index]


def test_first_rules_need_branches() -> None:
    with pytest.raises(typer.BadParameter):
        on_push_rules(None, options(on_push_depth='deep'))
    assert on_push_rules(None, options(on_push=['main'])) == {'branches': ['main']}


def test_a_matrix_replaces_one_run_and_back() -> None:
    rules = on_push_rules(STORED, options(on_push_matrix=['depth=shallow,deep', 'framework=python']))
    assert rules is not None and rules['matrix'] == {'depth_level': ['shallow', 'deep'], 'target_framework': ['python']}
    assert 'depth_level' not in rules and 'target_framework' not in rules
    single = on_push_rules(rules, options(on_push_depth='shallow', on_push_framework='go'))
    assert single is not None and 'matrix' not in single and single['depth_level'] == 'shallow'


def test_projects_edit_on_push_and_hook_secret_against_a_server(settings_factory, repo_factory) -> None:
    from tests.helpers.cli import served

    with served(settings_factory, repo_factory) as (server, cli):
        edited = cli(
            'projects', 'edit', 'proj', '--on-push', 'main', '--on-push', 'release/*', '--on-push-depth', 'deep'
        )
        assert edited.code == 0, edited.stderr
        assert 'on_push' in edited.stdout
        rules = cli('projects', 'show', 'proj', '--json').json()['on_push']
        assert (rules['branches'], rules['depth_level']) == (['main', 'release/*'], 'deep')
        # one field more, the rest kept
        assert cli('projects', 'edit', 'proj', '--on-push-pull-requests').code == 0
        rules = cli('projects', 'show', 'proj', '--json').json()['on_push']
        assert rules['pull_requests'] is True and rules['branches'] == ['main', 'release/*']
        refused = cli('projects', 'edit', 'proj', '--on-push-framework', 'cobol')
        assert refused.code != 0 and 'cobol' in (refused.stdout + refused.stderr)
        shown = cli('projects', 'show', 'proj').stdout
        assert 'main, release/* (deep/' in shown and 'pull requests too' in shown
        made = cli('projects', 'hook-secret', 'proj')
        assert made.code == 0 and 'POST /api/hooks/proj' in made.stdout and 'rbh_' in made.stdout
        assert cli('projects', 'edit', 'proj', '--no-on-push').code == 0
        assert cli('projects', 'show', 'proj', '--json').json()['on_push'] is None
