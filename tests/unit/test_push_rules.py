"""Push triggers, pure: which branches and paths a project's on_push rules select, the keys that make one run per
pushed head, which heads a fetch moved, the commit status a run posts; and forge webhooks: signatures per forge
and what each forge's payload says (payloads shaped as the forges document them)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from pydantic import ValidationError

from app.core.globs import glob_match
from app.models.triggers import OnPush
from app.services.triggers import hooks
from app.services.triggers.rules import (
    ReportCounts,
    abandoned_waits,
    acted_on,
    branch_matches,
    cancel_verdict,
    choice_refusal,
    forge_answer,
    head_contexts,
    moved_heads,
    not_run_description,
    on_push_of,
    paths_match,
    push_key,
    runs_for,
    skip_marker,
    status_context,
    status_description,
    status_state,
    superseded_description,
    waiting_description,
)
from app.services.triggers.statuses import wait_key


@pytest.mark.parametrize(
    ('pattern', 'value', 'matches'),
    [
        ('main', 'main', True),
        ('main', 'mainline', False),  # whole names only
        ('release/*', 'release/1.0', True),
        ('release/*', 'release/1.0/hotfix', False),  # * stops at /
        ('release/**', 'release/1.0/hotfix', True),  # ** crosses /
        ('**', 'any/thing', True),
        ('v[12].x', 'v1.x', True),
        ('v[12].x', 'v3.x', False),
        ('feat-?', 'feat-a', True),
        ('feat-?', 'feat-/', False),
        ('docs/**/*.md', 'docs/a.md', True),  # **/ also matches no folder
        ('docs/**/*.md', 'docs/x/y/a.md', True),
        ('*.md', 'docs/a.md', False),
        ('a+b', 'a+b', True),  # regex characters are literal
    ],
)
def test_globs(pattern: str, value: str, matches: bool) -> None:
    assert glob_match(pattern, value) is matches


@pytest.mark.parametrize(
    ('branches', 'branch', 'matches'),
    [
        (['main'], 'main', True),
        (['main'], 'dev', False),
        (['main', 'release/*'], 'release/2', True),
        # ! excludes what an earlier pattern selected
        (['**', '!wip/*'], 'wip/try', False),
        (['**', '!wip/*'], 'feature/x', True),
        # the last matching pattern decides: a later pattern selects again
        (['**', '!wip/*', 'wip/keep'], 'wip/keep', True),
    ],
)
def test_branch_filter(branches: list[str], branch: str, matches: bool) -> None:
    assert branch_matches(OnPush(branches=branches), branch) is matches


def test_disabled_rules_select_nothing() -> None:
    assert not branch_matches(OnPush(branches=['**'], enabled=False), 'main')


@pytest.mark.parametrize(
    ('paths', 'changed', 'runs'),
    [
        ([], ['README.md'], True),  # no path globs: any push
        (['src/**'], ['src/app.py'], True),
        (['src/**'], ['README.md'], False),
        (['src/**', '!src/**/*.md'], ['src/notes.md'], False),
        (['src/**', '!src/**/*.md'], ['src/notes.md', 'src/x.py'], True),
        (['src/**'], None, True),  # not known (a new branch, a forced push): it runs
        (['src/**'], [], False),  # known to change nothing selected
    ],
)
def test_path_filter(paths: list[str], changed: list[str] | None, runs: bool) -> None:
    assert paths_match(OnPush(branches=['main'], paths=paths), changed) is runs


@pytest.mark.parametrize(
    'body',
    [
        {'branches': []},  # nothing selected
        {'branches': ['!main']},  # only exclusions select nothing
        {'branches': ['main'], 'depth_level': 'deep', 'matrix': {'depth_level': ['deep'], 'target_framework': ['go']}},
        {'branches': ['main'], 'unknown': 1},
        {'branches': ['']},
        {'branches': ['ma\nin']},
    ],
)
def test_rules_refused(body: dict) -> None:
    with pytest.raises(ValidationError):
        OnPush.model_validate(body)


def test_runs_for_one_run_or_a_matrix() -> None:
    depths, frameworks = ['shallow', 'deep'], ['python', 'go']
    assert runs_for(OnPush(branches=['main']), depth_levels=depths, target_frameworks=frameworks) == [
        ('shallow', 'python')
    ]
    rules = OnPush.model_validate(
        {'branches': ['main'], 'matrix': {'depth_level': ['shallow', 'deep'], 'target_framework': ['go']}}
    )
    assert runs_for(rules, depth_levels=depths, target_frameworks=frameworks) == [('shallow', 'go'), ('deep', 'go')]
    bad = OnPush(branches=['main'], target_framework='rust')
    assert 'rust' in (choice_refusal(bad, depth_levels=depths, target_frameworks=frameworks) or '')


def test_the_key_names_project_branch_and_commit() -> None:
    assert push_key('demo', 'release/1', 'abc') == 'push:demo:release/1:abc'


def test_moved_heads() -> None:
    rules = OnPush(branches=['main', 'release/*'])
    heads = {'main': 'b', 'release/1': 'n', 'dev': 'x'}
    # the first look at a project is the baseline: nothing it finds was pushed since
    assert moved_heads(rules, heads, {}) == []
    moved = moved_heads(rules, heads, {'main': 'a', 'dev': 'w'})
    assert [(m.branch, m.sha, m.before) for m in moved] == [('main', 'b', 'a'), ('release/1', 'n', None)]
    assert moved_heads(rules, heads, {'main': 'b', 'release/1': 'n'}) == []


B, C = 'b' * 40, 'c' * 40


@pytest.mark.parametrize(
    ('seen', 'holds', 'run_ids', 'outcome'),
    [
        (None, False, [], None),  # no head acted on yet on this branch: the key decides
        (B, False, [], None),  # a newer head (or one a forced push left): a push
        (B, False, ['run_old'], None),  # it ran once, was left behind, and is pushed again after a newer head: a push
        (C, False, ['run_1'], ('replayed', ('run_1',))),  # the head acted on, redelivered after its key's TTL
        (C, False, [], ('ignored', ())),  # acted on without a run (the rules' starting point, a refusal for good)
        (B, True, ['run_1'], ('replayed', ('run_1',))),  # an older head that ran (a branch reset to it)
        (B, True, [], ('ignored', ())),  # an older head that never ran
    ],
)
def test_acted_on(seen: str | None, holds: bool, run_ids: list[str], outcome: tuple | None) -> None:
    said = acted_on('main', C, seen=seen, seen_holds_it=holds, run_ids=run_ids)
    assert (None if said is None else (said.outcome, said.run_ids)) == outcome
    if said is not None:
        assert C[:12] in said.detail and 'main' in said.detail and 'no' in said.detail


def test_acted_on_names_a_few_runs() -> None:
    said = acted_on('main', C, seen=C, seen_holds_it=False, run_ids=[f'run_{n}' for n in range(6)])
    assert said is not None and said.run_ids == tuple(f'run_{n}' for n in range(6))
    assert 'run_0, run_1, run_2 and 3 more' in said.detail


@pytest.mark.parametrize(
    ('commit', 'found', 'holds_head', 'verdict'),
    [
        (B, True, False, 'older'),  # in the new head's history, or left behind by a forced push
        (B, True, True, None),  # a newer head, admitted meanwhile: the new one waits behind it
        (B, False, False, 'gone'),  # on no branch of the repository (a forced push took it away): superseded
        (B, None, False, None),  # the mirror lacks it and the remote did not answer: maybe a newer head
        (None, None, False, 'older'),  # a run admitted without a commit
    ],
)
def test_cancel_verdict(commit: str | None, found: bool | None, holds_head: bool, verdict: str | None) -> None:
    assert cancel_verdict(commit=commit, found=found, holds_head=holds_head) == verdict


@pytest.mark.parametrize(
    ('status', 'state'),
    [
        ('queued', 'pending'),
        ('running', 'pending'),
        ('succeeded', 'success'),
        ('failed', 'failure'),
        ('timed_out', 'failure'),
        ('crashed', 'error'),
        ('stopped', 'error'),
        ('cancelled', 'error'),
        ('expired', 'error'),
    ],
)
def test_status_state(status: str, state: str) -> None:
    assert status_state(status) == state


@pytest.mark.parametrize(
    ('message', 'marker'),
    [
        ('Fix the login form', None),
        ('Docs only [skip ci]', '[skip ci]'),
        ('[CI SKIP] typo', '[ci skip]'),  # any case, as GitLab reads it
        ('Tidy\n\nBody says [no ci] here', '[no ci]'),  # anywhere in the message, the body too
        ('[skip actions]', '[skip actions]'),
        ('[actions skip]', '[actions skip]'),
        ('[skip runboard]', '[skip runboard]'),
        ('skip ci', None),  # only in brackets
        ('[skip  ci]', None),
        ('[skipci]', None),
        ('', None),
    ],
)
def test_skip_marker(message: str, marker: str | None) -> None:
    assert skip_marker(message) == marker


@pytest.mark.parametrize(
    ('project', 'kind', 'context'),
    [
        ('web', 'push', 'runboard/web (push)'),
        ('web', 'pull_request', 'runboard/web (pull_request)'),  # the same commit's other check
        ('api', 'push', 'runboard/api (push)'),
    ],
)
def test_status_context(project: str, kind: str, context: str) -> None:
    assert status_context(project, kind) == context


def test_a_matrix_cells_status_context_names_its_cell() -> None:
    assert status_context('web', 'push', ('deep', 'node')) == 'runboard/web (deep, node) (push)'
    assert status_context('web', 'push', ('deep', 'node')) != status_context('web', 'push', ('deep', 'go'))


GITLAB_PENDING_ALREADY = '{"message": "Cannot transition status via :enqueue from :pending (Reasons: )"}'
GITLAB_RUNNING = '{"message": "Cannot transition status via :enqueue from :running"}'
GITHUB_NO_COMMIT = '{"message": "No commit found for SHA: abc", "documentation_url": "https://docs.github.com"}'


@pytest.mark.parametrize(
    ('sent', 'code', 'body', 'meaning'),
    [
        # GitLab: the check is pending already, so a second pending is what it shows
        (
            'pending',
            400,
            '{"message": "Cannot transition status via :enqueue from :pending (Reasons: )"}',
            ('delivered', None),
        ),
        ('running', 400, '{"message":"Cannot transition status via :run from :running"}', ('delivered', None)),
        # ... but not a move it refuses from another state
        (
            'pending',
            400,
            '{"message": "Cannot transition status via :enqueue from :running"}',
            ('gave_up', 'HTTP 400: Cannot transition status via :enqueue from :running'),
        ),
        (
            'failure',
            422,
            '{"message": "No commit found for SHA: abc", "documentation_url": "x"}',
            ('gave_up', 'HTTP 422: No commit found for SHA: abc'),
        ),
        ('success', 404, '{"message": "404 Project Not Found"}', ('gave_up', 'HTTP 404: 404 Project Not Found')),
        ('success', 400, '{"message": {"state": ["is invalid"]}}', ('gave_up', 'HTTP 400: {"state": ["is invalid"]}')),
        # a token a person may still fix, a forge down or busy: tried again
        ('success', 401, '{"message": "Bad credentials"}', ('failed', 'HTTP 401: Bad credentials')),
        ('success', 502, '<html>\n<b>Bad gateway</b></html>', ('failed', 'HTTP 502: <html> <b>Bad gateway</b></html>')),
        ('success', 429, '', ('failed', 'HTTP 429')),
        ('success', 500, '{"error": "boom"}', ('failed', 'HTTP 500: boom')),
    ],
)
def test_what_a_forges_refusal_means(sent: str, code: int, body: str, meaning: tuple[str, str | None]) -> None:
    assert forge_answer(sent, code, body) == meaning


# ---------------------------------------------------------------- webhooks
SECRET = 'hook-secret'
BODY = b'{"ref":"refs/heads/main"}'
DIGEST = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ('headers', 'body', 'valid'),
    [
        ({'x-github-event': 'push', 'x-hub-signature-256': f'sha256={DIGEST}'}, BODY, True),
        ({'x-github-event': 'push', 'x-hub-signature-256': f'sha256={DIGEST}'}, BODY + b' ', False),  # body changed
        ({'x-github-event': 'push', 'x-hub-signature-256': DIGEST}, BODY, False),  # GitHub's needs its prefix
        ({'x-github-event': 'push'}, BODY, False),  # unsigned
        ({'x-gitea-event': 'push', 'x-gitea-signature': DIGEST}, BODY, True),
        ({'x-forgejo-event': 'push', 'x-forgejo-signature': DIGEST}, BODY, True),
        # Gitea also sends X-GitHub-Event; its own headers decide
        ({'x-github-event': 'push', 'x-gitea-event': 'push', 'x-gitea-signature': DIGEST}, BODY, True),
        ({'x-gitea-event': 'push', 'x-gitea-signature': '0' * 64}, BODY, False),
        ({'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET}, BODY, True),
        ({'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'other'}, BODY, False),
    ],
)
def test_signatures(headers: dict[str, str], body: bytes, valid: bool) -> None:
    delivery = hooks.delivery_of(headers)
    assert delivery is not None
    assert hooks.signature_valid(delivery, body, SECRET) is valid


def test_no_forge_headers() -> None:
    assert hooks.delivery_of({'content-type': 'application/json'}) is None


def test_sign_makes_what_verify_accepts() -> None:
    for forge, event in (('github', 'x-github-event'), ('gitea', 'x-gitea-event'), ('gitlab', 'x-gitlab-event')):
        headers = {k.lower(): v for k, v in hooks.sign(forge, BODY, SECRET).items()} | {event: 'push'}  # type: ignore[arg-type]
        delivery = hooks.delivery_of(headers)
        assert delivery is not None and delivery.forge == forge
        assert hooks.signature_valid(delivery, BODY, SECRET)


A, B = 'a' * 40, 'b' * 40
GITHUB_PUSH = {
    'ref': 'refs/heads/main',
    'before': A,
    'after': B,
    'created': False,
    'deleted': False,
    'forced': False,
    'pusher': {'name': 'ann', 'email': 'ann@example.org'},
    'sender': {'login': 'ann'},
    'commits': [{'id': B, 'added': ['src/new.py'], 'modified': ['README.md'], 'removed': []}],
}
GITEA_PUSH = {
    'ref': 'refs/heads/main',
    'before': A,
    'after': B,
    'pusher': {'login': 'bob', 'username': 'bob'},
    'sender': {'login': 'bob', 'username': 'bob'},
    'commits': [{'id': B, 'added': [], 'modified': ['src/x.py'], 'removed': []}],
}
GITLAB_PUSH = {
    'object_kind': 'push',
    'ref': 'refs/heads/main',
    'before': A,
    'after': B,
    'checkout_sha': B,
    'user_username': 'cat',
    'commits': [{'id': B, 'added': [], 'modified': ['a.txt'], 'removed': []}],
}


@pytest.mark.parametrize(
    ('headers', 'payload', 'expected'),
    [
        ({'x-github-event': 'push'}, GITHUB_PUSH, hooks.Push('main', B, A, 'ann', ('src/new.py', 'README.md'))),
        ({'x-gitea-event': 'push'}, GITEA_PUSH, hooks.Push('main', B, A, 'bob', ('src/x.py',))),
        ({'x-gitlab-event': 'Push Hook'}, GITLAB_PUSH, hooks.Push('main', B, A, 'cat', ('a.txt',))),
        (
            {'x-gitlab-event': 'Push Hook'},
            {**GITLAB_PUSH, 'total_commits_count': 1},
            hooks.Push('main', B, A, 'cat', ('a.txt',)),
        ),
        # a list cut short (GitLab lists 20 of a push's commits, Gitea a few): the files it omits are not known
        (
            {'x-gitlab-event': 'Push Hook'},
            {**GITLAB_PUSH, 'total_commits_count': 35},
            hooks.Push('main', B, A, 'cat', None),
        ),
        ({'x-gitea-event': 'push'}, {**GITEA_PUSH, 'total_commits': 12}, hooks.Push('main', B, A, 'bob', None)),
        # a new branch: which files changed is not known
        ({'x-github-event': 'push'}, {**GITHUB_PUSH, 'before': '0' * 40}, hooks.Push('main', B, None, 'ann', None)),
    ],
)
def test_push_payloads(headers: dict, payload: dict, expected: hooks.Push) -> None:
    delivery = hooks.delivery_of(headers)
    assert delivery is not None
    event = hooks.parse(delivery, json.loads(json.dumps(payload)))
    if expected.before is None:
        assert isinstance(event, hooks.Push) and event.changed is None and event.sha == B
    else:
        assert event == expected


@pytest.mark.parametrize(
    'payload',
    [
        {**GITHUB_PUSH, 'ref': 'refs/tags/v1'},  # a tag
        {**GITHUB_PUSH, 'after': '0' * 40, 'deleted': True},  # a deleted branch
        [],  # not an object
    ],
)
def test_pushes_ignored(payload: object) -> None:
    delivery = hooks.delivery_of({'x-github-event': 'push'})
    assert delivery is not None
    assert isinstance(hooks.parse(delivery, payload), hooks.Ignored)


def _pull(action: str, head_repo: str = 'team/app') -> dict:
    return {
        'action': action,
        'number': 7,
        'pull_request': {
            'number': 7,
            'title': 'Add the thing',
            'html_url': 'https://forge.example/team/app/pull/7',
            'user': {'login': 'dee'},
            'head': {'ref': 'feature/thing', 'sha': B, 'repo': {'full_name': head_repo}},
            'base': {'ref': 'main', 'sha': A, 'repo': {'full_name': 'team/app'}},
        },
        'sender': {'login': 'dee'},
    }


@pytest.mark.parametrize(
    ('headers', 'action', 'runs'),
    [
        ({'x-github-event': 'pull_request'}, 'opened', True),
        ({'x-github-event': 'pull_request'}, 'synchronize', True),
        ({'x-github-event': 'pull_request'}, 'reopened', True),
        ({'x-github-event': 'pull_request'}, 'closed', False),
        ({'x-github-event': 'pull_request'}, 'labeled', False),
        ({'x-gitea-event': 'pull_request'}, 'synchronized', True),  # Gitea's word
    ],
)
def test_pull_request_payloads(headers: dict, action: str, runs: bool) -> None:
    delivery = hooks.delivery_of(headers)
    assert delivery is not None
    event = hooks.parse(delivery, _pull(action))
    if not runs:
        assert isinstance(event, hooks.Ignored)
        return
    assert isinstance(event, hooks.PullRequest)
    assert (event.number, event.title, event.branch, event.sha) == (7, 'Add the thing', 'feature/thing', B)
    assert event.url == 'https://forge.example/team/app/pull/7'
    assert event.action in ('opened', 'synchronize', 'reopened') and event.same_repository


def test_a_forks_pull_request_is_marked() -> None:
    delivery = hooks.delivery_of({'x-github-event': 'pull_request'})
    assert delivery is not None
    event = hooks.parse(delivery, _pull('opened', head_repo='fork/app'))
    assert isinstance(event, hooks.PullRequest) and not event.same_repository


def test_gitlab_merge_request() -> None:
    delivery = hooks.delivery_of({'x-gitlab-event': 'Merge Request Hook'})
    assert delivery is not None
    payload = {
        'object_kind': 'merge_request',
        'user': {'username': 'eve'},
        'object_attributes': {
            'iid': 3,
            'title': 'Fix',
            'url': 'https://gitlab.example/g/p/-/merge_requests/3',
            'action': 'open',
            'source_branch': 'fix',
            'source_project_id': 1,
            'target_project_id': 1,
            'last_commit': {'id': B},
        },
    }
    event = hooks.parse(delivery, payload)
    assert isinstance(event, hooks.PullRequest) and (event.number, event.branch, event.sha) == (3, 'fix', B)
    payload['object_attributes']['action'] = 'update'  # a title edit: no new commits, no run
    assert isinstance(hooks.parse(delivery, payload), hooks.Ignored)


@pytest.mark.parametrize(
    ('status', 'tests', 'line'),
    [
        ('succeeded', None, 'Succeeded'),
        ('running', None, 'Running on Runboard'),
        ('failed', ReportCounts(total=120, failed=2, skipped=0), 'Failed: 2 of 120 tests failed'),
        ('succeeded', ReportCounts(total=120, failed=0, skipped=0), 'Succeeded: 120 tests passed'),
        ('succeeded', ReportCounts(total=1, failed=0, skipped=0), 'Succeeded: 1 test passed'),
        ('succeeded', ReportCounts(total=10, failed=0, skipped=3), 'Succeeded: 10 tests, 7 passed, 3 skipped'),
        ('timed_out', ReportCounts(total=1, failed=1, skipped=0), 'Timed out: 1 of 1 test failed'),
        ('failed', ReportCounts(total=0, failed=0, skipped=0), 'Failed'),  # an empty report says nothing
    ],
)
def test_status_description(status: str, tests: ReportCounts | None, line: str) -> None:
    assert status_description(status, tests) == line


@pytest.mark.parametrize(
    ('tests', 'coverage', 'line'),
    [
        (None, 87.27, 'Succeeded: coverage 87.3 %'),
        (ReportCounts(total=120, failed=0, skipped=0), 87.27, 'Succeeded: 120 tests passed, coverage 87.3 %'),
        (ReportCounts(total=120, failed=0, skipped=0), None, 'Succeeded: 120 tests passed'),
    ],
)
def test_status_description_with_coverage(tests: ReportCounts | None, coverage: float | None, line: str) -> None:
    assert status_description('succeeded', tests, coverage) == line
    longest = status_description('cancelled', ReportCounts(10**9, 10**9 - 1, 10**9 - 2), 100.0)
    assert len(longest) < 140  # the forges' limit holds without cutting


RUN = 'run_01jd0000000000000000000000'


@pytest.mark.parametrize(
    ('code', 'blocked_by', 'line'),
    [
        ('pr_lock', RUN, f"Waiting: the branch's run {RUN} is still going"),
        ('pr_lock', None, "Waiting: the branch's run is still going"),
        ('concurrency_limit', RUN, 'Waiting: the repository is at its limit of active runs'),
        ('rate_limited', None, "Waiting: the run limit of the push rules' owner is reached"),
        (None, None, 'Waiting to run'),
    ],
)
def test_what_a_waiting_head_says_on_the_forge(code: str | None, blocked_by: str | None, line: str) -> None:
    assert waiting_description(code, blocked_by) == line
    assert len(line) <= 140  # the forges' limit


@pytest.mark.parametrize(
    ('said', 'line'),
    [
        (superseded_description('1a2b3c4d5e6f7a8b9c0d' * 2), 'Cancelled by a newer push (1a2b3c4d5e6f) before it ran'),
        (
            not_run_description('owner_gone: Nobody owns the push rules'),
            'Not run: owner_gone: Nobody owns the push rules',
        ),
        (not_run_description(None), 'Not run'),
        (not_run_description('x' * 500), 'Not run: ' + 'x' * 131),  # cut to the forges' 140
    ],
)
def test_how_a_waiting_head_ends_on_the_forge(said: str, line: str) -> None:
    assert said == line


@pytest.mark.parametrize(
    ('raw', 'contexts'),
    [
        (None, ['runboard/web (push)']),
        ({'branches': ['main']}, ['runboard/web (push)']),
        ({'branches': ['main'], 'unknown': 1}, ['runboard/web (push)']),  # unreadable rules: the one check
        (
            {'branches': ['main'], 'matrix': {'depth_level': ['quick', 'deep'], 'target_framework': ['node']}},
            ['runboard/web (quick, node) (push)', 'runboard/web (deep, node) (push)'],  # a check per cell
        ),
    ],
)
def test_the_checks_a_waiting_head_shows(raw: dict | None, contexts: list[str]) -> None:
    assert head_contexts('web', on_push_of(raw)) == contexts


def test_a_waiting_heads_key_is_one_per_head_and_check() -> None:
    key = wait_key('web', 'main', 'a' * 40, 'runboard/web (push)')
    assert key == wait_key('web', 'main', 'a' * 40, 'runboard/web (push)')  # every server writes the same row
    others = {
        wait_key('web', 'dev', 'a' * 40, 'runboard/web (push)'),
        wait_key('web', 'main', 'b' * 40, 'runboard/web (push)'),
        wait_key('web', 'main', 'a' * 40, 'runboard/web (deep, node) (push)'),
    }
    assert key not in others and len(others) == 3
    assert key.startswith('wait_') and len(key) <= 64  # commit_status.run_id


@pytest.mark.parametrize(
    ('on_push', 'heads', 'said'),
    [
        (OnPush(branches=['main', 'release/*']), {'main': 'a', 'release/1': 'b'}, {}),  # still there, still selected
        (OnPush(branches=['main', 'release/*']), {'main': 'a'}, {'release/1': 'its branch was deleted'}),
        (
            OnPush(branches=['main']),
            {'main': 'a', 'release/1': 'b'},
            {'release/1': 'the push rules no longer select its branch'},
        ),
        (
            OnPush(branches=['**'], enabled=False),
            None,
            {'main': 'push triggers were switched off', 'release/1': 'push triggers were switched off'},
        ),
        (None, None, {'main': 'push triggers were switched off', 'release/1': 'push triggers were switched off'}),
    ],
)
def test_which_waiting_heads_will_never_run(on_push: OnPush | None, heads: dict | None, said: dict) -> None:
    """A waiting head is retried by the scan that finds its branch moved: one whose branch is gone, or no longer
    selected, or whose project's push triggers are off, would stay pending on the forge for ever."""
    assert abandoned_waits(on_push, heads, ['main', 'release/1']) == said


@pytest.mark.parametrize(
    ('headers', 'payload', 'expected'),
    [
        ({'x-github-event': 'issues'}, {'action': 'labeled', 'issue': {'number': 8}}, hooks.IssueChanged(8, 'labeled')),
        ({'x-github-event': 'issues'}, {'action': 'closed', 'issue': {'number': 3}}, hooks.IssueChanged(3, 'closed')),
        (  # Gitea's own words for a label change
            {'x-gitea-event': 'issues'},
            {'action': 'label_updated', 'issue': {'number': 5}},
            hooks.IssueChanged(5, 'label_updated'),
        ),
        (  # GitLab's issue hook: the number is the project's own (iid)
            {'x-gitlab-event': 'Issue Hook'},
            {'object_attributes': {'iid': 4, 'id': 9001, 'action': 'open'}},
            hooks.IssueChanged(4, 'open'),
        ),
        ({'x-github-event': 'issues'}, {'action': 'labeled'}, hooks.Ignored('no issue number in the body')),
        ({'x-github-event': 'issues'}, {'issue': {'number': '8'}}, hooks.Ignored('no issue number in the body')),
        ({'x-github-event': 'issues'}, {'issue': {'number': True}}, hooks.Ignored('no issue number in the body')),
        (
            {'x-github-event': 'issue_comment'},
            {'issue': {'number': 8}},
            hooks.Ignored('issue_comment events start no run'),
        ),
    ],
)
def test_issue_payloads(headers: dict, payload: dict, expected: hooks.Event) -> None:
    """Any action on an issue is a change of the ready issues (read again, whatever the action's name)."""
    delivery = hooks.delivery_of(headers)
    assert delivery is not None
    assert hooks.parse(delivery, payload) == expected
