"""A run's commit in words (pure): what git's listing gives, what may be asked of git, and how the runs list, the run
page and the CLI name it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from rich.text import Text

from app.cli.render import commit_cell, run_subject
from app.services.repositories.commits import LOG_FORMAT, askable, parse_log
from app.services.repositories.forge import commit_page
from app.state.push_rules import CommitLine, commit_line, push_text
from app.state.runs_store import text_matches

SHA = 'a' * 40


def _record(*fields: str) -> str:
    return '\x1f'.join(fields) + '\x1e\n'


def test_the_log_format_is_the_one_parse_log_reads() -> None:
    assert LOG_FORMAT == '--format=%H\x1f%s\x1f%an\x1f%ct\x1e'


@pytest.mark.parametrize(
    ('listing', 'expected'),
    [
        ('', {}),
        (_record(SHA, 'Fix the parser', 'Ann', '1790000000'), {SHA: ('Fix the parser', 'Ann', 1790000000)}),
        # a title with the characters people write in titles: the fields are split on controls git never prints
        (_record(SHA, 'feat: a | b, "c" \t d', 'Zoë', '0'), {SHA: ('feat: a | b, "c" \t d', 'Zoë', 0)}),
        (_record(SHA, '', 'Ann', '5'), {SHA: ('', 'Ann', 5)}),  # an empty message
        (_record(SHA, 'x' * 900, 'A' * 300, '5'), {SHA: ('x' * 500, 'A' * 200, 5)}),  # cut to the columns
        (_record(SHA, 'only three', 'Ann'), {}),  # not whole: left out
        (_record('not-a-sha', 'Fix', 'Ann', '5'), {}),
        (_record(SHA, 'Fix', 'Ann', 'soon'), {}),
        (
            _record(SHA, 'One', 'A', '1') + _record('b' * 40, 'Two', 'B', '2'),
            {SHA: ('One', 'A', 1), 'b' * 40: ('Two', 'B', 2)},
        ),
    ],
)
def test_parse_log(listing: str, expected: dict) -> None:
    found = parse_log(listing)
    assert {sha: (f.title, f.author, int(f.committed_at.timestamp())) for sha, f in found.items()} == expected
    assert all(f.committed_at.tzinfo is UTC for f in found.values())


@pytest.mark.parametrize(
    ('shas', 'expected'),
    [
        ([SHA, None, '', SHA, 'b' * 40], [SHA, 'b' * 40]),  # distinct, in order
        (['--output=/tmp/x', '-p', 'HEAD', 'main~1', 'ABCDEF1'], []),  # never an option or a revision expression
        (['abc12', 'abc1234', 'f' * 64, 'f' * 65], ['abc1234', 'f' * 64]),  # SHA-1 and SHA-256 names, short or full
    ],
)
def test_only_object_names_are_asked_of_git(shas: list, expected: list) -> None:
    assert askable(shas) == expected


@pytest.mark.parametrize(
    ('run', 'expected'),
    [
        ({'commit_sha': None}, None),  # not known yet (admitted without one, until it starts)
        ({'commit_sha': SHA}, CommitLine('aaaaaaa', None, None)),  # the title not read (yet)
        (
            {'commit_sha': SHA, 'commit_title': ' Fix the parser ', 'commit_author': 'Ann'},
            CommitLine('aaaaaaa', 'Fix the parser', 'Ann'),
        ),
        ({'commit_sha': SHA, 'commit_title': '', 'commit_author': 'Ann'}, CommitLine('aaaaaaa', None, None)),
    ],
)
def test_commit_line(run: dict, expected: CommitLine | None) -> None:
    assert commit_line(run) == expected


def test_the_hint_is_the_whole_title_and_its_author() -> None:
    assert CommitLine('aaaaaaa', 'Fix', 'Ann').hint == 'Fix (Ann)'
    assert CommitLine('aaaaaaa', 'Fix', None).hint == 'Fix'
    assert CommitLine('aaaaaaa', None, None).hint is None


@pytest.mark.parametrize(
    ('run', 'expected'),
    [
        ({'kind': 'manual', 'commit_sha': SHA}, None),
        ({'kind': 'push', 'commit_sha': SHA, 'pusher': 'ann'}, 'pushed by ann'),
        ({'kind': 'push', 'commit_sha': SHA, 'pusher': None}, 'pushed'),
        ({'kind': 'pull_request', 'commit_sha': SHA, 'pusher': 'dee'}, 'pull request head · by dee'),
    ],
)
def test_push_text_names_who_pushed_and_leaves_the_commit_to_commit_line(run: dict, expected: str | None) -> None:
    assert push_text(run) == expected


@pytest.mark.parametrize(
    ('run', 'expected'),
    [
        ({'commit_sha': None}, '-'),
        ({'commit_sha': SHA}, 'aaaaaaa'),
        ({'commit_sha': SHA, 'commit_title': 'Fix the parser'}, 'aaaaaaa Fix the parser'),
        ({'commit_sha': SHA, 'commit_title': 'Fix\x1b[31m red\nline'}, 'aaaaaaa Fix red⏎line'),  # inert, one line
    ],
)
def test_the_cli_commit_cell(run: dict, expected: str) -> None:
    assert commit_cell(run) == expected


def test_the_committed_time_is_kept_as_utc() -> None:
    (facts,) = parse_log(_record(SHA, 'Fix', 'Ann', '1790000000')).values()
    assert facts.committed_at == datetime.fromtimestamp(1790000000, UTC)


ROW = {
    'id': 'run_01abc',
    'branch_name': 'feature/x',
    'commit_sha': 'c0ffee' + '0' * 34,
    'commit_title': 'Fix the Parser',
}


@pytest.mark.parametrize(
    ('q', 'expected'),
    [
        ('parser', True),  # the commit's title, in any case
        (' C0FFEE ', True),  # the start of its sha, as pasted
        ('ffee', False),  # ... from its start only, as the server matches it
        ('feature', True),
        ('01ABC', True),
        ('login', False),
    ],
)
def test_a_live_update_is_matched_against_the_search_as_the_server_matches_it(q: str, expected: bool) -> None:
    assert text_matches(ROW, q) is expected
    assert text_matches({**ROW, 'commit_title': None, 'pr_title': 'The parser PR'}, 'parser PR') is True


GITEA = {'kind': 'gitea', 'api_url': 'https://git.example.com/api/v1'}


@pytest.mark.parametrize(
    ('repository', 'issue_source', 'expected'),
    [
        ('https://github.com/team/app.git', None, f'https://github.com/team/app/commit/{SHA}'),
        ('git@github.com:team/app.git', None, f'https://github.com/team/app/commit/{SHA}'),
        ('https://ann:tok@GitLab.com/team/app', None, f'https://gitlab.com/team/app/-/commit/{SHA}'),  # no userinfo
        ('https://codeberg.org/team/app.git', None, f'https://codeberg.org/team/app/commit/{SHA}'),
        ('git@bitbucket.org:team/app.git', None, f'https://bitbucket.org/team/app/commits/{SHA}'),
        # a forge of one's own: where the project's issues come from, on the repository's host
        ('https://git.example.com/team/app.git', GITEA, f'https://git.example.com/team/app/commit/{SHA}'),
        ('git@git.example.com:team/app.git', {'kind': 'github'}, f'https://git.example.com/team/app/commit/{SHA}'),
        (
            'https://git.example.com/team/app.git',
            {'kind': 'gitea', 'api_url': 'http://git.example.com:3000/api/v1'},
            f'http://git.example.com:3000/team/app/commit/{SHA}',
        ),
        ('https://git.example.com/team/app.git', None, None),  # a plain git server: no page to guess
        ('https://git.example.com/team/app.git', {'kind': 'local'}, None),
        ('https://git.example.com/team/app.git', {'kind': 'gitea', 'api_url': 'https://other.example/api'}, None),
        ('https://git.example.com/t/app.git', {'kind': 'gitea', 'api_url': 'javascript://git.example.com'}, None),
        ('/srv/repos/app', None, None),  # a repository on this machine
    ],
)
def test_commit_page(repository: str, issue_source: dict | None, expected: str | None) -> None:
    assert commit_page(repository, issue_source, SHA) == expected


def test_an_owner_name_or_sha_cannot_add_to_the_address() -> None:
    assert commit_page('https://github.com/team/app.git', None, '../../settings') is None
    assert (
        commit_page('https://github.com/te%3Fam/a%23pp', None, SHA)
        == f'https://github.com/te%253Fam/a%2523pp/commit/{SHA}'
    )


def test_only_an_http_address_is_linked_from_a_run() -> None:
    assert commit_line({'commit_sha': SHA, 'commit_url': 'https://github.com/t/a/commit/x'}).url is not None
    assert commit_line({'commit_sha': SHA, 'commit_url': 'javascript:alert(1)'}).url is None


RUN = {'project_id': 'demo', 'branch_name': 'main', 'depth_level': 'shallow', 'target_framework': 'python'}


@pytest.mark.parametrize(
    ('commit', 'expected'),
    [
        ({'commit_sha': None}, 'demo main shallow/python'),  # not known yet: no commit
        ({'commit_sha': SHA}, 'demo main (aaaaaaa) shallow/python'),
        ({'commit_sha': SHA, 'commit_title': 'Fix the parser'}, 'demo main (aaaaaaa Fix the parser) shallow/python'),
        (  # a long title is cut, as the runs list's COMMIT column cuts it in a terminal
            {'commit_sha': SHA, 'commit_title': 'Teach the parser every dialect of the configuration files'},
            'demo main (aaaaaaa Teach the parser every dialect…) shallow/python',
        ),
        (  # the title is inert: rich markup shows as typed, an escape sequence is dropped
            {'commit_sha': SHA, 'commit_title': '[bold red]Fix\x1b[2J[/]'},
            'demo main (aaaaaaa [bold red]Fix[/]) shallow/python',
        ),
    ],
)
def test_the_cli_names_a_new_runs_commit(commit: dict, expected: str) -> None:
    shown = Text.from_markup(run_subject({**RUN, **commit})).plain
    assert shown == expected
