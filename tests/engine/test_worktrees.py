"""Worktrees: removed after success, kept after failure for inspection, and cleaned up after the
retention period — never while their run is active."""

from __future__ import annotations

from app.services.scheduling.jobs import cleanup_worktrees
from tests.helpers.runs import create_project, shell_script, trigger, wait_for_output, wait_for_status
from tests.helpers.servers import api_server


def test_worktree_removed_after_success_kept_after_failure_and_cleaned_later(settings_factory, repo_factory) -> None:
    repo = repo_factory(
        {
            'main': shell_script('echo ok'),
            'fix/broken': shell_script('echo broken > result.txt\nexit 1'),
            'feature/long': shell_script('echo started\nsleep 1000'),
        }
    )
    settings = settings_factory()
    with api_server(settings) as server, server.client() as client:
        create_project(client, repo, max_concurrent_runs=5)
        ok = wait_for_status(client, trigger(client).json()['id'])
        failed = wait_for_status(client, trigger(client, branch='fix/broken').json()['id'])
        assert ok['status'] == 'succeeded' and failed['status'] == 'failed'
        assert not (settings.worktrees_dir / ok['id']).exists()
        kept = settings.worktrees_dir / failed['id']
        assert (kept / 'result.txt').read_text() == 'broken\n'  # the failed run's files, for inspection

        active = trigger(client, branch='feature/long').json()['id']
        wait_for_output(client, active, 'started')
        active_tree = settings.worktrees_dir / active
        assert active_tree.is_dir()

        assert cleanup_worktrees(server.services.engine, settings) == []
        assert kept.is_dir()

        past_retention = settings.model_copy(update={'worktree_retention_days': 0})
        assert cleanup_worktrees(server.services.engine, past_retention) == [kept]
        assert not kept.exists() and active_tree.is_dir()  # the active run's worktree is never touched

        client.post(f'/api/runs/{active}/stop')
        assert wait_for_status(client, active)['status'] == 'stopped'
