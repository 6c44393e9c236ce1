"""Gitea/Forgejo and GitHub through httpx: ready issues, the pull request of an AFK branch, and branches.

A project's `issue_source` selects and configures the forge:
    {"kind": "gitea" | "forgejo" | "github", "api_url": "https://git.example/api/v1",
     "owner": "team", "repo": "service", "token_env": "GITEA_TOKEN" | "token": "...",
     "timeout_seconds": 10, "label": "ready-for-agent"}
owner/repo default to the project's repository URL, api_url to the forge's usual API root.

Where requests may go is the deployment's RUNBOARD_WEBHOOK_ALLOWED_HOSTS, as for webhooks (docs/security.md): an
operator chooses api_url, and the server calls it with the project's token, so it is checked when a project is
saved (`check_target`) and again by every request (`guard`'s transport: the address checked is the one connected
to, redirects included).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import httpx

from app.core.errors import DomainError
from app.models.schemas import token_env_problem
from app.models.vocabulary import as_utc
from app.services.repositories import gitops
from app.services.repositories.issue_sources import READY_LABEL, IssueRecord, afk_branch, is_forge, source_kind

DEFAULT_TIMEOUT = 10.0
MAX_PAGES = 10
READY_CACHE_SECONDS = 15.0
_REMOTE = re.compile(
    r'^(?:(?P<scheme>https?)://(?:[^@/]+@)?|git@)(?P<host>[^/:]+)(?::\d+)?[/:]'
    r'(?P<owner>[^/]+)/(?P<repo>[^/]+?)(?:\.git)?/?$'
)


class ForgeUnavailable(DomainError):
    def __init__(self, detail: str) -> None:
        super().__init__(502, 'forge_unavailable', detail)


class TargetGuard(Protocol):
    """Where forge requests may go: notifications/webhook_targets.TargetGuard, the webhooks' policy and setting,
    handed over by the composition root (this package may not import notifications)."""

    def refusal_now(self, url: str) -> str | None: ...

    def transport(self) -> httpx.BaseTransport: ...


# set once a process by the composition root (container.py); until then no forge request is sent
guard: TargetGuard | None = None
NO_GUARD = 'this process has no policy for where forge requests may go (RUNBOARD_WEBHOOK_ALLOWED_HOSTS): none is sent'


def api_url_of(repository: str, issue_source: dict[str, Any] | None) -> str | None:
    """The forge API a project's requests go to: its issue_source's api_url, or a forge's usual API root on the
    repository's host; None when it has none."""
    source = issue_source or {}
    if source.get('api_url'):
        return str(source['api_url'])
    if not is_forge(source):
        return None
    try:
        return config_for(repository, source).api_url
    except ForgeUnavailable:
        return None


def check_target(repository: str, issue_source: dict[str, Any] | None) -> None:
    """At create and update: 422 forge_target_refused when the project's forge API is an address, or a name
    resolving now to one, that the deployment refuses (every request checks again: DNS answers change)."""
    url = api_url_of(repository, issue_source)
    if not url:
        return
    reason = guard.refusal_now(url) if guard is not None else NO_GUARD
    if reason:
        raise DomainError(
            422, 'forge_target_refused', f'This forge API URL is refused: {reason}.', field='issue_source'
        )


# the public forges a repository's address alone names, and where each shows a commit
PUBLIC_COMMIT_PAGES = {
    'github.com': '/commit/',
    'gitlab.com': '/-/commit/',
    'codeberg.org': '/commit/',
    'gitea.com': '/commit/',
    'bitbucket.org': '/commits/',
}


def commit_page(repository: str, issue_source: Mapping[str, Any] | None, sha: str) -> str | None:
    """Pure: the web page of a commit on the repository's forge, as a run page links it: a public forge by its host,
    or the forge the project's issues come from (GitHub Enterprise, Gitea, Forgejo) when it is on the repository's
    host. None for any other repository: a plain git server has no page to link, and a guessed one would not be."""
    match = _REMOTE.match(repository.strip())
    if match is None or not re.fullmatch(r'[0-9a-f]{7,64}', sha):
        return None
    host = match['host'].lower()
    path = f'/{quote(match["owner"], safe="")}/{quote(match["repo"], safe="")}'
    if host in PUBLIC_COMMIT_PAGES:
        return f'https://{host}{path}{PUBLIC_COMMIT_PAGES[host]}{sha}'
    if not is_forge(issue_source):
        return None
    api = urlsplit(str((issue_source or {}).get('api_url') or f'https://{host}'))
    if api.scheme not in ('https', 'http') or (api.hostname or '').lower() != host:
        return None
    port = f':{api.port}' if api.port else ''
    return f'{api.scheme}://{host}{port}{path}/commit/{sha}'


@dataclass(frozen=True)
class ForgeConfig:
    kind: str  # 'gitea' (also Forgejo) | 'github'
    api_url: str
    owner: str
    repo: str
    token: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    label: str = READY_LABEL

    @property
    def name(self) -> str:
        return 'GitHub' if self.kind == 'github' else 'Gitea'

    @property
    def repo_path(self) -> str:
        return f'/repos/{self.owner}/{self.repo}'


def config_for(repository: str, issue_source: dict[str, Any] | None) -> ForgeConfig:
    """Pure (apart from reading token_env): the forge settings of a project."""
    source = dict(issue_source or {})
    match = _REMOTE.match(repository.strip())
    kind = source_kind(source)
    if kind not in ('gitea', 'github'):
        kind = 'github' if match and match['host'].lower() == 'github.com' else 'gitea'
    owner = source.get('owner') or (match['owner'] if match else None)
    repo = source.get('repo') or (match['repo'] if match else None)
    api_url = source.get('api_url')
    if not api_url and match:
        host, scheme = match['host'], match['scheme'] or 'https'
        if kind == 'github':
            api_url = 'https://api.github.com' if host.lower() == 'github.com' else f'{scheme}://{host}/api/v3'
        else:
            api_url = f'{scheme}://{host}/api/v1'
    if not (owner and repo and api_url):
        raise ForgeUnavailable(
            f'Cannot tell which forge repository {repository!r} is: set issue_source api_url, owner and repo.'
        )
    token = source.get('token')
    if not token and source.get('token_env'):
        if problem := token_env_problem(source['token_env']):  # a project saved before the rule: not read
            raise ForgeUnavailable(f'issue_source {problem}')
        token = os.environ.get(source['token_env'])
    return ForgeConfig(
        kind=kind,
        api_url=str(api_url).rstrip('/'),
        owner=str(owner),
        repo=str(repo),
        token=token,
        timeout=float(source.get('timeout_seconds') or DEFAULT_TIMEOUT),
        label=str(source.get('label') or READY_LABEL),
    )


class ForgeClient:
    """The subset of the Gitea and GitHub REST APIs Runboard uses, every request through the guard's transport
    (a test may hand over a transport of its own)."""

    def __init__(self, config: ForgeConfig, *, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        headers = {
            'Accept': 'application/vnd.github+json' if config.kind == 'github' else 'application/json',
            'User-Agent': 'runboard',
        }
        if config.token:
            headers['Authorization'] = f'Bearer {config.token}' if config.kind == 'github' else f'token {config.token}'
        if transport is None:
            if guard is None:
                raise ForgeUnavailable(f'{config.name} at {config.api_url} is not asked: {NO_GUARD}.')
            transport = guard.transport()
        self._http = httpx.Client(
            base_url=config.api_url,
            headers=headers,
            timeout=config.timeout,
            transport=transport,
            follow_redirects=True,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ForgeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport
    def _get(self, path: str, params: dict | None = None) -> Any:
        where = f'{self.config.name} at {self.config.api_url}'
        try:
            reply = self._http.get(path, params=params)
        except httpx.TimeoutException as exc:
            raise ForgeUnavailable(f'{where} did not answer within {self.config.timeout:g} s.') from exc
        except httpx.HTTPError as exc:
            raise ForgeUnavailable(f'Could not reach {where}: {type(exc).__name__}: {exc}.') from exc
        if reply.status_code in (401, 403):
            raise ForgeUnavailable(
                f'{where} refused {path} ({reply.status_code}): check the token '
                f'(issue_source token_env) and its permissions.'
            )
        if reply.status_code == 404:
            raise ForgeUnavailable(
                f'{where}: {path} not found (404): is {self.config.owner}/{self.config.repo} '
                f'right and visible with this token?'
            )
        if reply.status_code >= 400:
            raise ForgeUnavailable(f'{where} answered {reply.status_code} for {path}.')
        try:
            return reply.json()
        except ValueError as exc:
            raise ForgeUnavailable(f'{where} answered {path} with something that is not JSON.') from exc

    def _pages(self, path: str, params: dict, *, limit: int = MAX_PAGES) -> list[dict]:
        size_key, size = ('per_page', 100) if self.config.kind == 'github' else ('limit', 50)
        items: list[dict] = []
        for page in range(1, limit + 1):
            batch = self._get(path, {**params, size_key: size, 'page': page})
            if not isinstance(batch, list):
                raise ForgeUnavailable(f'{self.config.name} answered {path} with an unexpected shape.')
            items.extend(batch)
            if len(batch) < size:
                break
        return items

    # -- issues
    def ready_issues(self) -> list[IssueRecord]:
        """Open issues labelled ready-for-agent (pull requests excluded), oldest number first."""
        params = {'state': 'open', 'labels': self.config.label}
        if self.config.kind == 'gitea':
            params['type'] = 'issues'
        issues = []
        for item in self._pages(f'{self.config.repo_path}/issues', params):
            if item.get('pull_request'):
                continue
            labels = tuple(label.get('name', '') for label in item.get('labels') or [] if isinstance(label, dict))
            if self.config.label not in labels:
                continue  # a forge that ignored the filter must not hand us unready work
            issues.append(
                IssueRecord(
                    int(item['number']),
                    str(item.get('title') or ''),
                    str(item.get('body') or ''),
                    labels,
                    str(item.get('state') or 'open'),
                )
            )
        return sorted(issues, key=lambda issue: issue.number)

    # -- pull requests
    def pull_request_for(self, head_branch: str) -> dict | None:
        """The open or merged pull request whose head is head_branch, if any."""
        if self.config.kind == 'github':
            pulls = self._get(
                f'{self.config.repo_path}/pulls',
                {'state': 'all', 'head': f'{self.config.owner}:{head_branch}', 'per_page': 20},
            )
        else:
            pulls = self._pages(f'{self.config.repo_path}/pulls', {'state': 'all', 'sort': 'recentupdate'}, limit=5)
        for pull in pulls or []:
            if (pull.get('head') or {}).get('ref') != head_branch:
                continue
            if pull.get('state') == 'open' or pull.get('merged') or pull.get('merged_at'):
                return pull
        return None

    # -- what a reviewer reads: the issue, the pull request's files, diff and checks
    def issue(self, number: int) -> dict:
        return dict(self._get(f'{self.config.repo_path}/issues/{number}') or {})

    def pull_files(self, number: int) -> list[dict]:
        """The files a pull request changes (GitHub: with each file's `patch`; Gitea: without)."""
        return self._pages(f'{self.config.repo_path}/pulls/{number}/files', {}, limit=3)

    def pull_diff(self, number: int) -> str:
        """Gitea's whole diff of a pull request (`GET /repos/{o}/{r}/pulls/{n}.diff`, text)."""
        where = f'{self.config.name} at {self.config.api_url}'
        try:
            reply = self._http.get(f'{self.config.repo_path}/pulls/{number}.diff', headers={'Accept': 'text/plain'})
        except httpx.HTTPError as exc:
            raise ForgeUnavailable(f'Could not reach {where}: {type(exc).__name__}: {exc}.') from exc
        if reply.status_code >= 400:
            raise ForgeUnavailable(f'{where} answered {reply.status_code} for the diff of pull request {number}.')
        return reply.text

    def commit_statuses(self, sha: str) -> list[dict]:
        """The combined status of a commit: its latest status per context (`state`, `context`, ...)."""
        combined = self._get(f'{self.config.repo_path}/commits/{sha}/status') or {}
        statuses = combined.get('statuses') if isinstance(combined, dict) else None
        return [dict(item) for item in statuses or [] if isinstance(item, dict)]

    # -- branches
    def branches(self) -> list[gitops.Branch]:
        items = self._pages(f'{self.config.repo_path}/branches', {})
        result = []
        for index, item in enumerate(items):
            commit = item.get('commit') or {}
            sha = str(commit.get('id') or commit.get('sha') or '')
            when, subject = commit.get('timestamp'), str(commit.get('message') or '')
            if self.config.kind == 'github' and sha and index < 50:  # GitHub lists only the sha
                detail = self._get(f'{self.config.repo_path}/commits/{sha}').get('commit') or {}
                when = (detail.get('committer') or {}).get('date')
                subject = str(detail.get('message') or '')
            result.append(gitops.Branch(str(item.get('name')), sha, _unix(when), subject.split('\n', 1)[0]))
        return sorted(result, key=lambda b: b.committed_at, reverse=True)


def _unix(value: str | None) -> int:
    if not value:
        return 0
    try:
        return int(datetime.fromisoformat(value.replace('Z', '+00:00')).timestamp())
    except ValueError:
        return 0


ClientFactory = Callable[[ForgeConfig], ForgeClient]
client_factory: ClientFactory = ForgeClient  # tests may point this elsewhere; production uses httpx


def _client(repository: str, issue_source: dict | None) -> ForgeClient:
    return client_factory(config_for(repository, issue_source))


# ------------------------------------------------------------------ cached reads used by the AFK loop
_ready_cache: dict[tuple, tuple[float, datetime, list[IssueRecord] | ForgeUnavailable]] = {}
_ready_lock = threading.Lock()


def ready_issues(
    repository: str,
    issue_source: dict,
    *,
    max_age: float = READY_CACHE_SECONDS,
    changed_at: datetime | None = None,
) -> list[IssueRecord]:
    """Cached for max_age seconds, failures too: a dead forge must not stall every card refresh and sweep.
    `changed_at`: when the forge last said an issue changed (its webhook, on whichever server took it): an answer
    read before then is not used."""
    key = (repository, repr(sorted((issue_source or {}).items())))
    now, read_at = time.monotonic(), datetime.now(UTC)
    with _ready_lock:
        hit = _ready_cache.get(key)
    if hit and now - hit[0] < max_age and (changed_at is None or hit[1] >= as_utc(changed_at)):
        if isinstance(hit[2], ForgeUnavailable):
            raise ForgeUnavailable(hit[2].detail)
        return hit[2]
    try:
        with _client(repository, issue_source) as client:
            result: list[IssueRecord] | ForgeUnavailable = client.ready_issues()
    except ForgeUnavailable as exc:
        result = exc
    with _ready_lock:
        if len(_ready_cache) > 4096:
            _ready_cache.clear()
        _ready_cache[key] = (now, read_at, result)
    if isinstance(result, ForgeUnavailable):
        raise ForgeUnavailable(result.detail)
    return result


def has_pull_request(repository: str, issue_source: dict, issue_number: int) -> bool:
    with _client(repository, issue_source) as client:
        return client.pull_request_for(afk_branch(issue_number)) is not None


def pull_request_of_run(run: dict) -> dict | None:
    """The open or merged pull request of an AFK run's branch afk/<N> on its project's forge (None: none, or not a
    forge project)."""
    source = run.get('issue_source')
    if isinstance(source, str):
        source = json.loads(source)
    if not isinstance(source, dict) or not is_forge(source) or run.get('issue_number') is None:
        return None
    with _client(run['repository'], source) as client:
        return client.pull_request_for(afk_branch(int(run['issue_number'])))


def clone_url(issue_source: dict[str, Any]) -> str:
    """The forge's clone URL of the source's repository (api_url, owner and repo must be set)."""
    with ForgeClient(config_for('', issue_source)) as client:
        url = client._get(client.config.repo_path).get('clone_url')
    if not isinstance(url, str) or not url:
        raise ForgeUnavailable('The forge did not say how to clone the repository (no clone_url).')
    return url


def forge_token_credentials(issue_source: dict[str, Any]) -> dict[str, str] | None:
    """The forge's API token as the clone's https credentials (one token for issues, PR checks and git)."""
    config = config_for('', issue_source)
    if not config.token:
        return None
    username = str(issue_source.get('username') or ('x-access-token' if config.kind == 'github' else 'git'))
    return {'kind': 'token', 'username': username, 'secret': config.token}


def list_branches(project) -> list[gitops.Branch]:  # noqa: ANN001 - a Project
    """Branches of a forge-hosted repository, newest commit first (502 forge_unavailable on failure)."""
    with _client(project.repository, project.issue_source) as client:
        return client.branches()
