"""An AFK run as its reviewer reads it (docs/afk.md, "Reviewing an AFK run"): the issue, the pull request of its
branch `afk/<N>` with the head commit's statuses, and the changes, from the forge's API on a forge project, else
from `git diff <base>...afk/<N>` where Runboard's git finds the branch (the project's repository or its mirror in
the data dir, or the copy kept from the run's checkout when it ended; never the checkout itself, whose git config is
the run's). What cannot be read, the branch that was not kept too, is said in `problems`, never a 500.

A pull request found here is written on the run (`pr_number`, `pr_title`, `pr_url`), so the runs list shows it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session, select

from app.core.errors import DomainError
from app.models import Issue, Project, Run, RunPublic
from app.models.review import ReviewCheck, ReviewDiff, ReviewFile, ReviewIssue, ReviewPullRequest, RunReview
from app.models.vocabulary import ACTIVE_STATUSES, WAITING_STATUSES
from app.services.identity.accounts import Principal
from app.services.repositories import afk_branches, forge, gitops
from app.services.repositories.access import RepositoryAccess, is_remote
from app.services.repositories.issue_sources import afk_branch, is_forge
from app.services.runs.reads import load_visible_run

log = logging.getLogger(__name__)
MAX_FILES = 300
MAX_PATCH_CHARS = 100_000  # one file's diff shown; past it the file says "too large to show"


# ---------------------------------------------------------------- pure
def split_diff(diff: str) -> dict[str, str]:
    """A unified diff (`git diff`, Gitea's `.diff`) cut into each file's part, by the path after `b/`."""
    parts: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for line in diff.splitlines(keepends=True):
        if line.startswith('diff --git '):
            if current is not None:
                parts[current] = ''.join(lines)
            current, lines = _path_of(line), [line]
        elif current is not None:
            lines.append(line)
    if current is not None:
        parts[current] = ''.join(lines)
    return parts


def _path_of(header: str) -> str:
    rest = header.rstrip('\n')[len('diff --git ') :]
    marker = rest.rfind(' b/')
    return rest[marker + 3 :] if marker >= 0 else rest


def numstat_files(numstat: str, statuses: dict[str, str]) -> list[ReviewFile]:
    """`git diff --numstat -z`-free form: `ADD\\tDEL\\tPATH` lines (`-` for binary files)."""
    files = []
    for line in numstat.splitlines():
        added, _, rest = line.partition('\t')
        deleted, _, path = rest.partition('\t')
        if not path:
            continue
        if ' => ' in path:  # a rename: {old => new}
            path = path.split(' => ', 1)[1].rstrip('}')
        files.append(
            ReviewFile(
                path=path,
                status=statuses.get(path, 'modified'),
                additions=int(added) if added.isdigit() else 0,
                deletions=int(deleted) if deleted.isdigit() else 0,
            )
        )
    return files


def name_statuses(output: str) -> dict[str, str]:
    words = {'A': 'added', 'M': 'modified', 'D': 'deleted', 'R': 'renamed', 'C': 'copied', 'T': 'modified'}
    statuses = {}
    for line in output.splitlines():
        fields = line.split('\t')
        if len(fields) >= 2:
            statuses[fields[-1]] = words.get(fields[0][:1], 'modified')
    return statuses


def check_of(item: dict[str, Any]) -> ReviewCheck:
    """A commit status as GitHub (`state`) or Gitea (`status`) answers it."""
    return ReviewCheck(
        context=str(item.get('context') or 'status'),
        state=str(item.get('state') or item.get('status') or 'pending'),
        description=item.get('description') or None,
        target_url=item.get('target_url') or None,
    )


def pull_state(pull: dict[str, Any]) -> str:
    if pull.get('merged') or pull.get('merged_at'):
        return 'merged'
    return str(pull.get('state') or 'open')


def _shown_patch(patch: str | None) -> str | None:
    if patch is None or len(patch) > MAX_PATCH_CHARS:
        return None
    return patch


def _with_totals(diff: ReviewDiff) -> ReviewDiff:
    diff.truncated = diff.truncated or len(diff.files) > MAX_FILES
    diff.files = diff.files[:MAX_FILES]
    diff.additions = sum(f.additions for f in diff.files)
    diff.deletions = sum(f.deletions for f in diff.files)
    return diff


# ---------------------------------------------------------------- I/O
def review_run(engine: Engine, repositories: RepositoryAccess, principal: Principal, run_id: str) -> RunReview:
    with Session(engine) as session:
        run, project = load_visible_run(session, run_id, principal)
        if run.kind != 'auto' or run.issue_number is None:
            raise DomainError(409, 'not_an_afk_run', f'run {run_id} is not an AFK run: it works on no issue')
        local_issue = None
        if not is_forge(project.issue_source):
            local_issue = session.exec(
                select(Issue).where(Issue.project_id == project.id, Issue.number == run.issue_number)
            ).first()
    review = RunReview(run_id=run.id)
    if is_forge(project.issue_source):
        _from_forge(engine, review, run, project)
    else:
        review.issue = _local_issue(run, local_issue)
        review.diff = _git_diff(review, run, project, repositories)
    return review


def _local_issue(run: Run, issue: Issue | None) -> ReviewIssue:
    if issue is None:  # deleted since: what the run was given
        return ReviewIssue(number=run.issue_number or 0, title=run.issue_title or '', body=run.issue_body or '')
    return ReviewIssue(
        number=issue.number,
        title=issue.title,
        body=issue.body or '',
        labels=list(issue.labels or []),
        state=issue.state,
    )


def _from_forge(engine: Engine, review: RunReview, run: Run, project: Project) -> None:
    number = int(run.issue_number or 0)
    try:
        client = forge.client_factory(forge.config_for(project.repository, project.issue_source))
    except forge.ForgeUnavailable as exc:
        review.problems.append(exc.detail)
        review.issue = ReviewIssue(number=number, title=run.issue_title or '', body=run.issue_body or '')
        return
    with client:
        try:
            item = client.issue(number)
            review.issue = ReviewIssue(
                number=number,
                title=str(item.get('title') or run.issue_title or ''),
                body=str(item.get('body') or ''),
                labels=[str(lb.get('name')) for lb in item.get('labels') or [] if isinstance(lb, dict)],
                state=str(item.get('state') or 'open'),
                url=item.get('html_url') or None,
            )
        except forge.ForgeUnavailable as exc:
            review.problems.append(exc.detail)
            review.issue = ReviewIssue(number=number, title=run.issue_title or '', body=run.issue_body or '')
        try:
            pull = client.pull_request_for(afk_branch(number))
        except forge.ForgeUnavailable as exc:
            review.problems.append(exc.detail)
            return
        if pull is None:
            return
        head = pull.get('head') or {}
        review.pull_request = ReviewPullRequest(
            number=int(pull['number']),
            title=str(pull.get('title') or ''),
            state=pull_state(pull),
            url=pull.get('html_url') or None,
            head_sha=head.get('sha') or None,
        )
        _remember_pull(engine, run.id, review.pull_request)
        if review.pull_request.head_sha:
            try:
                review.pull_request.checks = [check_of(s) for s in client.commit_statuses(review.pull_request.head_sha)]
            except forge.ForgeUnavailable as exc:
                review.problems.append(exc.detail)
        try:
            review.diff = _forge_diff(client, review.pull_request, pull)
        except forge.ForgeUnavailable as exc:
            review.problems.append(exc.detail)


def recording_probe(engine: Engine) -> Callable[[dict[str, Any]], bool]:
    """The engine's pull-request probe for forge AFK runs: does afk/<N> have an open or merged pull request? One
    that does is written on the run as well, so the runs list shows it without anybody opening the run."""

    def probe(run: dict[str, Any]) -> bool:
        pull = forge.pull_request_of_run(run)
        if pull is None:
            return False
        found = ReviewPullRequest(
            number=int(pull['number']),
            title=str(pull.get('title') or ''),
            state=pull_state(pull),
            url=pull.get('html_url'),
        )
        _remember_pull(engine, str(run['id']), found)
        return True

    return probe


def _remember_pull(engine: Engine, run_id: str, pull: ReviewPullRequest) -> None:
    """The pull request on the run, so the runs list shows it (as a pull-request run's)."""
    with engine.begin() as conn:
        conn.execute(
            text('UPDATE run SET pr_number = :n, pr_title = :t, pr_url = :u WHERE id = :r'),
            {'n': pull.number, 't': pull.title[:500], 'u': (pull.url or '')[:1000] or None, 'r': run_id},
        )


def _forge_diff(client: forge.ForgeClient, pull: ReviewPullRequest, raw: dict[str, Any]) -> ReviewDiff:
    items = client.pull_files(pull.number)
    patches: dict[str, str] = {}
    if any('patch' not in item for item in items):  # Gitea lists files without their diff: read it whole
        patches = split_diff(client.pull_diff(pull.number))
    files = [
        ReviewFile(
            path=str(item.get('filename') or ''),
            status=str(item.get('status') or 'modified'),
            additions=int(item.get('additions') or 0),
            deletions=int(item.get('deletions') or 0),
            patch=_shown_patch(item.get('patch') if 'patch' in item else patches.get(str(item.get('filename')))),
        )
        for item in items
    ]
    base = (raw.get('base') or {}).get('ref')
    head = str((raw.get('head') or {}).get('ref') or '')
    return _with_totals(ReviewDiff(source='forge', base=base, head=head, files=files))


def _git_diff(review: RunReview, run: Run, project: Project, repositories: RepositoryAccess) -> ReviewDiff | None:
    """`git diff <base>...afk/<N>` where the branch is kept (`kept_branch`), each file with its patch."""
    branch = afk_branch(int(run.issue_number or 0))
    kept = kept_branch(run, project, repositories, review.problems)
    if kept is None:
        review.problems.append(f"the agent's branch was not kept: {_why_not_kept(run, branch, repositories)}")
        return None
    place, spec = kept
    try:
        numstat = _git('diff', *DIFF_OPTIONS, '--numstat', spec, cwd=place)
        statuses = name_statuses(_git('diff', *DIFF_OPTIONS, '--name-status', spec, cwd=place))
        patches = split_diff(_git('diff', *DIFF_OPTIONS, spec, cwd=place, timeout=60))
    except gitops.GitError as exc:
        review.problems.append(f'git diff {spec.partition("...")[0][:12]}...{branch}: {exc}')
        return None
    files = numstat_files(numstat, statuses)
    for file in files:
        file.patch = _shown_patch(patches.get(file.path))
    return _with_totals(ReviewDiff(source='git', base=project.base_branch, head=branch, files=files))


def diff_totals(run: Run | RunPublic, project: Project, repositories: RepositoryAccess) -> ReviewDiff | None:
    """An AFK run's changes as `git diff --numstat` counts them, without the patches (the loop's summary reads many
    runs); None where the branch is not kept or git cannot tell. A forge project's changes are the forge's: None."""
    if is_forge(project.issue_source):
        return None
    kept = kept_branch(run, project, repositories, [])
    if kept is None:
        return None
    place, spec = kept
    try:
        numstat = _git('diff', *DIFF_OPTIONS, '--numstat', spec, cwd=place)
    except gitops.GitError:
        return None
    branch = afk_branch(int(run.issue_number or 0))
    return _with_totals(
        ReviewDiff(source='git', base=project.base_branch, head=branch, files=numstat_files(numstat, {}))
    )


def kept_branch(
    run: Run | RunPublic, project: Project, repositories: RepositoryAccess, problems: list[str]
) -> tuple[str, str] | None:
    """(the git directory holding `afk/<N>`, the `<base>...<head>` to diff there), or None: where the branch is, the
    repository (or its mirror), else the copy the engine kept in the data dir when the run ended. Never the run's
    checkout: its `.git` (config, attributes, hooks) is the run's to write, and git there would start the programs it
    names as the server (docs/security.md)."""
    branch = afk_branch(int(run.issue_number or 0))
    places: list[str] = []
    try:
        places.append(repositories.git_dir(project))
    except DomainError as exc:
        problems.append(exc.detail)
    if not is_remote(project.repository):
        mirror = gitops.mirror_path(
            repositories.settings.mirrors_dir, project.repository
        )  # the runs' checkouts' origin
        places.append(str(mirror))
    # where the engine kept the branch when the run's checkout went (a project without a forge)
    places.append(str(afk_branches.store_path(repositories.settings.data_dir, project.repository)))
    for place in places:
        if not Path(place).exists():
            continue
        try:
            head = _git('rev-parse', '--verify', '--quiet', f'refs/heads/{branch}^{{commit}}', cwd=place).strip()
        except gitops.GitError:
            continue
        return place, f'{run.commit_sha or project.base_branch}...{head}'
    return None


# the run's files (a .gitattributes naming a diff driver) never start a program; -M: renames as renames
DIFF_OPTIONS = ('--no-ext-diff', '--no-textconv', '--no-color', '-M')


def _git(*args: str, cwd: str, timeout: float = 120) -> str:
    """git on what a run made (its commits), in a repository of the server's: no system or global config."""
    return gitops.git(*args, cwd=cwd, timeout=timeout, env=gitops.SEALED_GIT_ENV)


def _why_not_kept(run: Run, branch: str, repositories: RepositoryAccess) -> str:
    status = str(getattr(run.status, 'value', run.status))
    if status in ACTIVE_STATUSES or status in WAITING_STATUSES:
        return f'the run has not ended yet ({branch} is kept from its checkout when it ends)'
    recorded = afk_branches.why_not_kept(repositories.settings.data_dir, run.id)
    return recorded or f'no copy of {branch} was made when the run ended (it left no checkout on this server)'
