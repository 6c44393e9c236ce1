"""Forge webhooks, pure (no I/O): which forge sent a delivery, whether its signature is the project's hook
secret's, and what it says (a push or a pull request), as one shape whatever the forge.

- GitHub: `X-GitHub-Event: push | pull_request | issues | ping`, `X-Hub-Signature-256: sha256=<HMAC-SHA256 hex of the
  body>`.
- Gitea / Forgejo: `X-Gitea-Event` (`X-Forgejo-Event`), `X-Gitea-Signature` (`X-Forgejo-Signature`): the HMAC-SHA256
  hex of the body. (Gitea sends X-GitHub-Event too; its own header wins.)
- GitLab: `X-Gitlab-Event: Push Hook | Merge Request Hook`, `X-Gitlab-Token`: the secret itself.
Signatures are compared in constant time (hmac.compare_digest)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from app.services.triggers.rules import PR_ACTIONS, ZERO_SHA

Forge = Literal['github', 'gitea', 'gitlab']


@dataclass(frozen=True)
class Delivery:
    forge: Forge
    event: str  # the forge's event name, e.g. push, pull_request, Push Hook
    signature: str | None


@dataclass(frozen=True)
class Push:
    branch: str
    sha: str
    before: str | None
    pusher: str | None
    changed: tuple[str, ...] | None  # the files the pushed commits touch; None: not known (run anyway)


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    url: str
    branch: str  # the head branch
    sha: str  # the head commit
    action: str
    author: str | None
    same_repository: bool  # False: a fork's head, which the project's mirror does not hold as a branch


@dataclass(frozen=True)
class IssueChanged:
    """An issue was opened, labelled, closed, edited...: the ready issues the AFK loop reads may have changed."""

    number: int
    action: str


@dataclass(frozen=True)
class Ignored:
    reason: str


Event = Push | PullRequest | IssueChanged | Ignored


def delivery_of(headers: Mapping[str, str]) -> Delivery | None:
    """The forge and event of a delivery from its headers (lower-case names); None: no forge's headers."""
    for name in ('x-gitea-event', 'x-forgejo-event'):
        if headers.get(name):
            signature = headers.get('x-gitea-signature') or headers.get('x-forgejo-signature')
            return Delivery('gitea', headers[name].strip(), signature)
    if headers.get('x-gitlab-event'):
        return Delivery('gitlab', headers['x-gitlab-event'].strip(), headers.get('x-gitlab-token'))
    if headers.get('x-github-event'):
        return Delivery('github', headers['x-github-event'].strip(), headers.get('x-hub-signature-256'))
    return None


def signature_valid(delivery: Delivery, body: bytes, secret: str) -> bool:
    """Is the delivery signed (GitLab: tokened) with the project's hook secret?"""
    given = (delivery.signature or '').strip()
    if not given or not secret:
        return False
    if delivery.forge == 'gitlab':
        return hmac.compare_digest(given.encode(), secret.encode())
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if delivery.forge == 'github':
        return hmac.compare_digest(given.lower().encode(), f'sha256={digest}'.encode())
    return hmac.compare_digest(given.lower().removeprefix('sha256=').encode(), digest.encode())


def sign(forge: Forge, body: bytes, secret: str) -> dict[str, str]:
    """The headers a forge would send with this body: what tests and `docs/triggers.md`'s curl example use."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if forge == 'github':
        return {'X-Hub-Signature-256': f'sha256={digest}'}
    if forge == 'gitea':
        return {'X-Gitea-Signature': digest}
    return {'X-Gitlab-Token': secret}


def kind_of(delivery: Delivery) -> str:
    """push | pull_request | issues | ping | the forge's own word for anything else."""
    event = delivery.event.lower()
    if event in ('push', 'push hook'):
        return 'push'
    if event in ('pull_request', 'merge request hook'):
        return 'pull_request'
    if event in ('issues', 'issue hook'):
        return 'issues'
    if event in ('ping', 'system hook'):
        return 'ping'
    return event


def parse(delivery: Delivery, payload: Any) -> Event:
    """The push, pull request or issue change a delivery's JSON body describes; Ignored for anything a run cannot
    follow (a tag, a deleted branch, a closed pull request, another event)."""
    if not isinstance(payload, dict):
        return Ignored('the body is not a JSON object')
    kind = kind_of(delivery)
    if kind == 'push':
        return _push(delivery.forge, payload)
    if kind == 'pull_request':
        return _gitlab_merge_request(payload) if delivery.forge == 'gitlab' else _pull_request(payload)
    if kind == 'issues':
        return _issue(payload)
    return Ignored(f'{delivery.event} events start no run')


def _issue(payload: dict[str, Any]) -> Event:
    """Any action on an issue (GitHub: opened, labeled, unlabeled, closed, ...; Gitea: label_updated, ...; GitLab's
    object_attributes): whichever it is, the set of ready issues is read again, so no action list can fall behind."""
    issue = _object(payload.get('issue')) or _object(payload.get('object_attributes'))
    number = issue.get('number', issue.get('iid'))
    if not isinstance(number, int) or isinstance(number, bool):
        return Ignored('no issue number in the body')
    action = str(payload.get('action') or _object(payload.get('object_attributes')).get('action') or 'changed')
    return IssueChanged(number, action[:40])


def _push(forge: Forge, payload: dict[str, Any]) -> Event:
    ref = str(payload.get('ref') or '')
    if not ref.startswith('refs/heads/'):
        return Ignored(f'{ref or "no ref"} is not a branch')
    after = str(payload.get('after') or payload.get('checkout_sha') or '')
    if not after or after == ZERO_SHA or payload.get('deleted'):
        return Ignored('the branch was deleted')
    before = str(payload.get('before') or '') or None
    commits = payload.get('commits')
    changed: tuple[str, ...] | None = None
    # a new branch or a forced push lists only some commits: what changed is not known, so the push runs
    new_branch = before in (None, ZERO_SHA) or payload.get('created')
    # GitLab lists 20 commits at most (`total_commits_count` counts them all), Gitea a few (`total_commits`), GitHub
    # 2,048: a list cut short does not say every file the push changed
    total = payload.get('total_commits_count', payload.get('total_commits'))
    cut_short = isinstance(commits, list) and isinstance(total, int) and total > len(commits)
    if isinstance(commits, list) and commits and not new_branch and not payload.get('forced') and not cut_short:
        files: list[str] = []
        for commit in commits:
            if isinstance(commit, dict):
                for key in ('added', 'modified', 'removed'):
                    files += [str(path) for path in commit.get(key) or [] if isinstance(path, str)]
        changed = tuple(dict.fromkeys(files))
    return Push(ref.removeprefix('refs/heads/'), after, before, _pusher(forge, payload), changed)


def _pusher(forge: Forge, payload: dict[str, Any]) -> str | None:
    if forge == 'gitlab':
        name = payload.get('user_username') or payload.get('user_name')
        return str(name) if name else None
    for key, fields in (('sender', ('login', 'username')), ('pusher', ('login', 'username', 'name'))):
        who = payload.get(key)
        if isinstance(who, dict):
            for field in fields:
                if who.get(field):
                    return str(who[field])
    return None


def _pull_request(payload: dict[str, Any]) -> Event:
    action = str(payload.get('action') or '')
    if action not in PR_ACTIONS:
        return Ignored(f'pull request {action or "event"}: only opened, synchronize and reopened run')
    pull = payload.get('pull_request')
    if not isinstance(pull, dict):
        return Ignored('no pull_request in the body')
    head, base = _object(pull.get('head')), _object(pull.get('base'))
    head_repo = _object(head.get('repo')).get('full_name')
    base_repo = _object(base.get('repo')).get('full_name')
    sha, branch = str(head.get('sha') or ''), str(head.get('ref') or '')
    if not sha or not branch:
        return Ignored("the pull request's head has no commit")
    author = _object(pull.get('user')).get('login')
    sender = _object(payload.get('sender'))
    return PullRequest(
        number=int(payload.get('number') or pull.get('number') or 0),
        title=str(pull.get('title') or ''),
        url=str(pull.get('html_url') or pull.get('url') or ''),
        branch=branch,
        sha=sha,
        action='synchronize' if action == 'synchronized' else action,
        author=str(sender.get('login') or sender.get('username') or author or '') or None,
        same_repository=head_repo is None or base_repo is None or head_repo == base_repo,
    )


_GITLAB_ACTIONS = {'open': 'opened', 'reopen': 'reopened', 'update': 'synchronize'}


def _gitlab_merge_request(payload: dict[str, Any]) -> Event:
    attrs = payload.get('object_attributes')
    if not isinstance(attrs, dict):
        return Ignored('no object_attributes in the body')
    action = _GITLAB_ACTIONS.get(str(attrs.get('action') or ''))
    if action is None or (action == 'synchronize' and not attrs.get('oldrev')):
        return Ignored('merge request event: only open, reopen and new commits run')
    sha = str(_object(attrs.get('last_commit')).get('id') or '')
    branch = str(attrs.get('source_branch') or '')
    if not sha or not branch:
        return Ignored("the merge request's head has no commit")
    user = _object(payload.get('user'))
    return PullRequest(
        number=int(attrs.get('iid') or 0),
        title=str(attrs.get('title') or ''),
        url=str(attrs.get('url') or ''),
        branch=branch,
        sha=sha,
        action=action,
        author=str(user.get('username') or '') or None,
        same_repository=attrs.get('source_project_id') == attrs.get('target_project_id'),
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
