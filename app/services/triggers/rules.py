"""Pure push-trigger decisions (no I/O), each with a table test (tests/unit/test_push_rules.py):

- `branch_matches`: does a branch fall under the rules' branch globs (`!` excludes; the last matching pattern
  decides, as GitHub's `branches` filter reads);
- `paths_match`: does a push change a file under the path globs (no globs: any push);
- `skip_marker`: does a head commit's message ask for no run (`[skip ci]` and its spellings);
- `push_key` / `pull_request_key`: the idempotency key that makes one run per pushed head, on every server,
  whether a webhook or a mirror fetch saw the push first;
- `runs_for`: the (depth, framework) combinations a push starts;
- `moved_heads`: which branch heads a fetch moved (the mirror-fetch trigger);
- `acted_on`: whether a pushed head is one the rules acted on already (a redelivery, after its key's TTL too);
- `cancel_verdict`: which of a branch's push runs a newer head cancels (cancel-in-progress);
- `status_state`: the commit status a run's status posts;
- `head_contexts`, `waiting_description`, `superseded_description`: the checks a pushed head waiting for its branch
  shows on the forge, and what they say while it waits and once a newer push replaced it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from app.core.globs import filter_match
from app.models.triggers import OnPush

ZERO_SHA = '0' * 40  # a deleted branch's "after" in a push payload
PR_ACTIONS = ('opened', 'synchronize', 'synchronized', 'reopened')  # Gitea says `synchronized`


def branch_matches(rules: OnPush, branch: str) -> bool:
    return rules.enabled and filter_match(rules.branches, branch)


def paths_match(rules: OnPush, changed: Iterable[str] | None) -> bool:
    """No path globs: any push. With globs: at least one changed file they select. `changed` None means
    "not known" (a new branch, a forced push, a payload without file lists): the push runs."""
    if not rules.paths or changed is None:
        return True
    return any(filter_match(rules.paths, path) for path in changed)


# GitHub's spellings (GitLab reads the first two), and one of Runboard's own; any case, anywhere in the message
SKIP_MARKERS = ('[skip ci]', '[ci skip]', '[no ci]', '[skip actions]', '[actions skip]', '[skip runboard]')


def skip_marker(message: str) -> str | None:
    """The marker in a pushed head's commit message that asks for no push or pull-request run, if any."""
    lowered = message.lower()
    return next((marker for marker in SKIP_MARKERS if marker in lowered), None)


def push_key(project_id: str, branch: str, sha: str) -> str:
    """The idempotency key of a pushed head (issue 37): whoever sees the push (a webhook, any server's mirror
    fetch) admits under it, so the head makes one run."""
    return f'push:{project_id}:{branch}:{sha}'


def pull_request_key(project_id: str, number: int, sha: str) -> str:
    return f'pull_request:{project_id}:{number}:{sha}'


def runs_for(rules: OnPush, *, depth_levels: Sequence[str], target_frameworks: Sequence[str]) -> list[tuple[str, str]]:
    """The (depth, framework) runs a matching push starts: the matrix's combinations (depth-major), or one run
    with the rules' choice, the project's first depth and framework where the rules name none."""
    if rules.matrix is not None:
        return [(d, f) for d in rules.matrix.depth_level for f in rules.matrix.target_framework]
    depth = rules.depth_level or (depth_levels[0] if depth_levels else 'standard')
    framework = rules.target_framework or (target_frameworks[0] if target_frameworks else 'python')
    return [(depth, framework)]


def choice_refusal(rules: OnPush, *, depth_levels: Sequence[str], target_frameworks: Sequence[str]) -> str | None:
    """Why the rules cannot run on this project (a depth or framework it does not allow), None when they can."""
    for depth, framework in runs_for(rules, depth_levels=depth_levels, target_frameworks=target_frameworks):
        if depth not in depth_levels:
            return f"depth_level {depth!r} is not one of the project's ({', '.join(depth_levels)})"
        if framework not in target_frameworks:
            return f"target_framework {framework!r} is not one of the project's ({', '.join(target_frameworks)})"
    return None


@dataclass(frozen=True)
class MovedHead:
    branch: str
    sha: str
    before: str | None  # the head the rules last acted on; None: a branch new since then


def moved_heads(rules: OnPush, heads: Mapping[str, str], seen: Mapping[str, str]) -> list[MovedHead]:
    """The branches a fetch found at a new commit that the rules select, in name order. `seen` is the last head
    acted on per branch; a project seen for the first time (`seen` empty) starts from what it finds: its
    existing heads are the baseline, not pushes."""
    if not seen:
        return []
    return [
        MovedHead(branch, sha, seen.get(branch))
        for branch, sha in sorted(heads.items())
        if seen.get(branch) != sha and branch_matches(rules, branch)
    ]


class ActedOn(NamedTuple):
    """A pushed head the rules acted on already: what a delivery of it again answers (it starts no run)."""

    outcome: Literal['replayed', 'ignored']
    run_ids: tuple[str, ...]
    detail: str


def acted_on(branch: str, sha: str, *, seen: str | None, seen_holds_it: bool, run_ids: Sequence[str]) -> ActedOn | None:
    """None when `sha` is a push to admit; else why it is not. `seen` is the branch's head the rules acted on last
    (push_head, which moves forward only), `seen_holds_it` whether `sha` is in its history, `run_ids` the push runs
    of `sha` on the branch. The head's idempotency key replays only until its TTL, so this is what keeps a delivery
    redelivered a day later (or a branch reset to a commit it held) from running it again: `replayed` with its runs
    when it has some, else `ignored` (its push was no_match, skipped or refused for good, or it is where the rules
    started)."""
    if seen is None or not (seen == sha or seen_holds_it):
        return None
    runs = tuple(run_ids)
    if runs:
        named = ', '.join(runs[:3]) + (f' and {len(runs) - 3} more' if len(runs) > 3 else '')
        its = 'its runs' if len(runs) > 1 else 'its run'
        return ActedOn('replayed', runs, f'{branch} at {sha[:12]} has {its} already ({named}): no new run.')
    if seen == sha:
        why = (
            f'The push rules acted on {branch} at {sha[:12]} already without a run (its push was refused for good, '
            'or it was the head when the rules were set): no run now either.'
        )
    else:
        why = f'{sha[:12]} is in the history of {seen[:12]}, the head of {branch} the push rules acted on last: no run.'
    return ActedOn('ignored', (), why)


def cancel_verdict(*, commit: str | None, found: bool | None, holds_head: bool) -> Literal['older', 'gone'] | None:
    """cancel-in-progress, as GitHub's concurrency group reads it: what a newer head does to one of the branch's
    push runs not of that head. `found`: the repository has the run's commit (None: not known, the mirror lacks it
    and the remote did not answer); `holds_head`: the new head is in that commit's history.

    'older': its commit is in the new head's history, or one a forced push left behind: superseded. 'gone': the
    repository has it nowhere (a forced push took it away before this mirror got it), so it can never be the newer
    one, nor run what its key names: superseded too, or it would hold the branch. None: leave it, a newer head
    (admitted meanwhile), or as far as this server knows one its mirror has not got yet."""
    if commit is None:
        return 'older'
    if found is None:
        return None
    if not found:
        return 'gone'
    return None if holds_head else 'older'


def status_state(run_status: str) -> str | None:
    """The commit status (GitHub's and Gitea's words) a run's status posts; None: nothing to post (yet)."""
    if run_status in ('queued', 'running', 'delayed'):
        return 'pending'
    if run_status == 'succeeded':
        return 'success'
    if run_status in ('failed', 'timed_out'):
        return 'failure'
    if run_status in ('crashed', 'stopped', 'expired', 'skipped', 'cancelled'):
        return 'error'
    return None


def status_context(project_id: str, run_kind: str, cell: tuple[str, str] | None = None) -> str:
    """The check's name on the forge, one per project and event (as GitHub Actions names `CI / test (push)`): a push
    to a pull request's branch starts a push run and a pull-request run on one commit, and the forge keeps one
    state per name, so one name would show whichever ended last. A matrix child's names its cell, (depth,
    framework), as GitHub names a matrix job `CI / test (3.11, ubuntu) (push)`: one red cell stays red."""
    if cell is not None:
        return f'runboard/{project_id} ({cell[0]}, {cell[1]}) ({run_kind})'
    return f'runboard/{project_id} ({run_kind})'


def on_push_of(raw: object) -> OnPush | None:
    """A project's stored `on_push` as rules, None when it has none or they do not read (rules set by an older
    release that this one refuses)."""
    if not raw:
        return None
    try:
        return OnPush.model_validate(raw)
    except ValueError:
        return None


def head_contexts(project_id: str, rules: OnPush | None) -> list[str]:
    """The checks a pushed head's runs post under (status_context): one per matrix cell, else one."""
    if rules is None or rules.matrix is None:
        return [status_context(project_id, 'push')]
    cells = runs_for(rules, depth_levels=(), target_frameworks=())
    return [status_context(project_id, 'push', cell) for cell in cells]


def waiting_description(code: str | None, blocked_by: str | None) -> str:
    """What a pushed head that waits says on the forge (140 characters at most), by the refusal that holds it back
    (push.HEAD_WAITS): as GitHub shows a queued check at once, before its run starts."""
    if code == 'pr_lock' and blocked_by:
        said = f"Waiting: the branch's run {blocked_by} is still going"
    elif code == 'pr_lock':
        said = "Waiting: the branch's run is still going"
    elif code == 'concurrency_limit':
        said = 'Waiting: the repository is at its limit of active runs'
    elif code == 'rate_limited':
        said = "Waiting: the run limit of the push rules' owner is reached"
    else:
        said = 'Waiting to run'
    return said[:140]


def superseded_description(newer_sha: str) -> str:
    """A waiting head that a newer push replaced before it ran: said as a cancelled run's status says it
    (status_description('cancelled')), naming the newer commit."""
    return f'Cancelled by a newer push ({newer_sha[:12]}) before it ran'


def abandoned_waits(
    on_push: OnPush | None, heads: Mapping[str, str] | None, waiting_branches: Iterable[str]
) -> dict[str, str]:
    """Pure: the branches whose waiting heads will never run, and why (`heads` None: not read, as when push
    triggers are off): push triggers switched off, the branch deleted, or the rules no longer selecting it. A
    waiting head is retried by the scan that finds its branch moved, so these would otherwise stay pending on the
    forge for ever."""
    abandoned = {}
    for branch in waiting_branches:
        if on_push is None or not on_push.enabled:
            abandoned[branch] = 'push triggers were switched off'
        elif heads is not None and branch not in heads:
            abandoned[branch] = 'its branch was deleted'
        elif not branch_matches(on_push, branch):
            abandoned[branch] = 'the push rules no longer select its branch'
    return abandoned


def not_run_description(detail: str | None) -> str:
    """A waiting head that was then refused for good (the rules' owner gone, say): it will not run."""
    return f'Not run: {detail}'[:140] if detail else 'Not run'


GITLAB_SAME_STATE = re.compile(r'Cannot transition status via :\w+ from :(\w+)')
REQUEST_REFUSED = (400, 404, 422)  # no such commit or repository, a body the forge rejects: sending again cannot help


def forge_answer(state_sent: str, code: int, body: str) -> tuple[Literal['delivered', 'gave_up', 'failed'], str | None]:
    """Pure: what a forge's answer other than 2xx to a status post means, and the line that says why.
    ('delivered', None): the commit has that state already (GitLab refuses a move to the state a status is in,
    400 `Cannot transition status via :enqueue from :pending`); ('gave_up', why): posting it again cannot help;
    ('failed', why): to be tried again (a 5xx, a rate limit, a token a person may still fix).
    `state_sent`: the state in the forge's own words (GitLab's `failed`, `canceled`)."""
    message = _forge_message(body)
    same = GITLAB_SAME_STATE.search(message) if code == 400 else None
    if same is not None and same.group(1) == state_sent:
        return 'delivered', None
    why = f'HTTP {code}: {message}' if message else f'HTTP {code}'
    return ('gave_up' if code in REQUEST_REFUSED else 'failed'), why[:300]


def _forge_message(body: str) -> str:
    """The forge's own words: GitHub's and Gitea's `message`, GitLab's `message` (a string or a field's errors) or
    `error`; else the start of the body."""
    try:
        document = json.loads(body)
    except ValueError:
        return ' '.join(body.split())[:200]
    if isinstance(document, dict):
        said = document.get('message', document.get('error'))
        if said is not None:
            return said if isinstance(said, str) else json.dumps(said)
    return ' '.join(body.split())[:200]


class ReportCounts(NamedTuple):
    """A run's JUnit totals, as far as its commit status says them."""

    total: int
    failed: int  # failures and errors
    skipped: int


def status_description(run_status: str, tests: ReportCounts | None = None, coverage: float | None = None) -> str:
    """The status's one line on the forge (140 characters at most): the run's outcome, what its tests did when it
    kept a report (`Failed: 2 of 120 tests failed`) and its coverage when it kept one (`, coverage 87.3 %`), as a
    reviewer reads it beside the pull request."""
    word = {
        'queued': 'Queued on Runboard',
        'running': 'Running on Runboard',
        'succeeded': 'Succeeded',
        'failed': 'Failed',
        'timed_out': 'Timed out',
        'crashed': 'Crashed',
        'stopped': 'Stopped',
        'expired': 'Expired in the queue',
        'skipped': 'Skipped',
        'cancelled': 'Cancelled by a newer push',
    }.get(run_status, run_status)
    said = ''
    if tests is not None and tests.total > 0:
        noun = 'test' if tests.total == 1 else 'tests'
        if tests.failed:
            said = f'{tests.failed} of {tests.total} {noun} failed'
        elif tests.skipped:
            said = f'{tests.total} {noun}, {tests.total - tests.skipped} passed, {tests.skipped} skipped'
        else:
            said = f'{tests.total} {noun} passed'
    if coverage is not None:
        said += (', ' if said else '') + f'coverage {coverage:.1f} %'
    return f'{word}: {said}' if said else word
