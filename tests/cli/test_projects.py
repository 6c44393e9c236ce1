"""`runboard projects` (and its badges) and `runboard quota` against a running server (both backends)."""

from __future__ import annotations

import httpx

from tests.helpers.cli import served


def test_projects_add_edit_show_list(settings_factory, repo_factory) -> None:
    repo = repo_factory({'trunk': {'ci.py': 'print("ok")\n'}}, base='trunk')
    with served(settings_factory, repo_factory) as (server, cli):
        added = cli(
            'projects',
            'add',
            '--id',
            'tools',
            '--repository',
            str(repo),
            '--base-branch',
            'trunk',
            '--command',
            'python ci.py --label "two words"',
            '--frameworks',
            'python, rust',
            '--json',
        )
        assert added.code == 0, added.stderr
        project = added.json()
        assert project['command'] == ['python', 'ci.py', '--label', 'two words']  # an argv list, not a shell line
        assert project['target_frameworks'] == ['python', 'rust'] and project['base_branch'] == 'trunk'

        edited = cli('projects', 'edit', 'tools', '--max-concurrent', '3', '--name', 'Tools')
        assert edited.code == 0 and 'max_concurrent_runs' in edited.stdout
        shown = cli('projects', 'show', 'tools', '--json').json()
        assert shown['max_concurrent_runs'] == 3 and shown['name'] == 'Tools' and shown['command'] == project['command']

        listed = cli('projects', 'list', '--json')
        assert sorted(p['id'] for p in listed.json()) == ['proj', 'tools']
        assert 'Tools' in cli('projects', 'list').stdout

        duplicate = cli(
            'projects', 'add', '--id', 'tools', '--repository', str(repo), '--base-branch', 'trunk', '--command', 'true'
        )
        assert duplicate.code == 3 and 'conflict' in duplicate.stderr
        no_change = cli('projects', 'edit', 'tools')
        assert no_change.code == 2

        # --if-version: the edit version read; changed by someone else since, nothing is saved and the exit code is 3
        read = shown['edit_version']
        assert edited.stdout.strip().endswith(f'(edit version {read}).'), edited.stdout
        with server.client() as api:
            assert api.patch('/api/projects/tools', json={'name': 'Theirs'}).is_success
        stale = cli('projects', 'edit', 'tools', '--name', 'Mine', '--if-version', str(read))
        assert stale.code == 3 and stale.stdout == ''
        said = ' '.join(stale.stderr.split())
        assert f'was changed by someone else since you read it (version {read}, now {read + 1})' in said, said
        assert '(HTTP 409 edit_conflict)' in said and 'Correlation id: ' in said
        assert cli('projects', 'show', 'tools', '--json').json()['name'] == 'Theirs'
        current = cli('projects', 'edit', 'tools', '--name', 'Mine', '--if-version', str(read + 1), '--json')
        assert current.code == 0 and current.json()['edit_version'] == read + 2, current.stderr
        assert current.json()['name'] == 'Mine'
        bad_repo = cli('projects', 'add', '--id', 'gone', '--repository', '/nonexistent/repo', '--command', 'true')
        assert bad_repo.code == 2 and 'repository' in bad_repo.stderr


def test_quota_counts_down_as_runs_start(settings_factory, repo_factory) -> None:
    with served(settings_factory, repo_factory, rate_limit_runs=5) as (server, cli):
        before = cli('quota', '--json').json()
        assert before['limit'] == 5 and before['remaining'] == 5
        assert cli('runs', 'trigger', '-p', 'proj', '-b', 'main', '-d', 'shallow', '-f', 'python').code == 0
        after = cli('quota')
        assert after.code == 0 and '4 of 5' in after.stdout


def test_projects_badges_prints_the_addresses_and_the_markdown_whole(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with served(settings_factory, repo_factory) as (server, cli):
        off = cli('projects', 'badges', 'proj')
        assert off.code == 0 and 'Badges of proj are off (runboard projects badges proj --new).' in off.stdout
        made = cli('projects', 'badges', 'proj', '--new', '--json')
        assert made.code == 0, made.stderr
        badges = made.json()
        shown = cli('projects', 'badges', 'proj')
        # the Markdown as the API gives it: its [brackets] are not eaten as terminal markup, its line not wrapped
        assert badges['markdown'] in shown.stdout.splitlines()
        assert f'Build:    {badges["status_url"]}' in shown.stdout
        assert httpx.get(badges['status_url'], timeout=30).status_code == 200
        both = cli('projects', 'badges', 'proj', '--new', '--off')
        assert both.code == 2 and '--new or --off, not both' in both.stderr
        gone = cli('projects', 'badges', 'proj', '--off')
        assert gone.code == 0 and 'are off' in gone.stdout
        assert httpx.get(badges['status_url'], timeout=30).status_code == 404
