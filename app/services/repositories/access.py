"""A project's repository as runs and the picker see it: a local path is read in place; a remote one
(https, ssh, git, file URL) through its bare mirror in the data dir (mirror_store.py), fetched with the
project's own credentials (decrypted here, for one git call at a time, never stored in clear).

Freshness of a remote mirror: cloned when the project is created, fetched by the scheduler
(services/scheduling/jobs.py), when the Run form opens or a person presses "refresh" (at most once per
mirror_refresh_min_seconds), when a trigger names one of its branches (`freshen`: at most every 2 s, waited
for a few seconds only), and once when a trigger names a branch the mirror
does not know (at most once per unknown_branch_fetch_seconds per project, so unknown names cannot keep the server
fetching). A slow or failing remote blocks only its own mirror: every other project's admission goes on."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.config import Settings
from app.core.errors import DomainError
from app.infra.children import Children, ChildStopped
from app.infra.secret_box import SecretBox, SecretUnreadable
from app.services.repositories import gitops
from app.services.repositories.credentials import CredentialKind, Credentials
from app.services.repositories.git_failure import failure_code
from app.services.repositories.mirror_state import MirrorState
from app.services.repositories.mirror_store import MirrorStore
from app.services.repositories.repo_url import classify

EVER = float('inf')  # max_age: any fetch made with these credentials will do
# a fetch younger than this is what a trigger reads: a burst of triggers fetches at most this often
TRIGGER_FRESH_SECONDS = 2.0

log = logging.getLogger(__name__)


class RepositoryFacts(Protocol):
    """What this module reads of a project (a Project row, or the engine's claimed run)."""

    @property
    def id(self) -> str: ...
    @property
    def repository(self) -> str: ...
    @property
    def credentials_kind(self) -> str | None: ...
    @property
    def credentials_username(self) -> str | None: ...
    @property
    def credentials_secret(self) -> str | None: ...


@dataclass(frozen=True)
class ProjectRepository:
    """RepositoryFacts from a plain row (the engine's claimed run joins these from the project)."""

    id: str
    repository: str
    credentials_kind: str | None = None
    credentials_username: str | None = None
    credentials_secret: str | None = None

    @classmethod
    def of_run(cls, run: dict[str, Any]) -> ProjectRepository:
        return cls(
            run['project_id'],
            run['repository'],
            run.get('credentials_kind'),
            run.get('credentials_username'),
            run.get('credentials_secret'),
        )


@dataclass(frozen=True)
class RepositoryState:
    kind: str  # path | https | http | ssh | scp | git | file
    display: str  # the repository without any secret
    remote: bool
    has_credentials: bool
    credentials_kind: str | None
    fetched_at: float | None  # unix seconds of the last good fetch (remote only)
    error: str | None  # the last fetch's error, redacted
    error_code: str | None
    fetch_seconds: float | None


def is_remote(repository: str) -> bool:
    """Read through a mirror: every URL, file:// included."""
    return not gitops.is_local(repository)


def unavailable(exc: Exception, repository: str) -> DomainError:
    message = str(exc)
    return DomainError(
        502,
        'repository_unavailable',
        f'Could not read {classify_display(repository)}: {message}',
        reason=failure_code(message),
    )


def classify_display(repository: str) -> str:
    try:
        return classify(repository).display
    except ValueError:
        return 'the repository'


class RepositoryAccess:
    def __init__(self, *, settings: Settings, branches: gitops.BranchCache, secrets: SecretBox) -> None:
        self.settings, self.branches, self.secrets = settings, branches, secrets
        self.mirrors = MirrorStore(settings.mirrors_dir, fetch_timeout=settings.git_timeout_seconds)
        self._unknown_fetch_at: dict[str, float] = {}
        self._guard = threading.Lock()
        self._freshening: dict[str, Future[MirrorState]] = {}  # repository -> its trigger's fetch under way
        self._fetcher: ThreadPoolExecutor | None = None
        self._fetches = Children()  # the triggers' fetches, ended at close (a remote that hangs is not waited out)

    # -- credentials
    def credentials(self, project: RepositoryFacts) -> Credentials | None:
        if not project.credentials_kind or not project.credentials_secret:
            return None
        try:
            secret = self.secrets.decrypt(project.credentials_secret)
        except SecretUnreadable as exc:
            said = (
                f'{self.secrets.advice}.' if self.secrets.advice else " with this server's secret key; set them again."
            )
            raise DomainError(
                502,
                'repository_unavailable',
                f'The credentials of project {project.id!r} cannot be decrypted{said}',
                reason='credentials_unreadable',
            ) from exc
        kind: CredentialKind = 'ssh_key' if project.credentials_kind == 'ssh_key' else 'token'
        return Credentials(kind, project.credentials_username or 'git', secret)

    def encrypt(self, secret: str) -> str:
        return self.secrets.encrypt(secret)

    # -- where git reads the branches
    def git_dir(self, project: RepositoryFacts) -> str:
        """The directory branch questions go to: the path itself, or the remote's mirror (cloned if missing)."""
        if not is_remote(project.repository):
            return project.repository
        return str(self.refresh(project, max_age=EVER).path)

    def refresh(self, project: RepositoryFacts, *, max_age: float) -> MirrorState:
        try:
            state = self.mirrors.ensure(project.repository, self.credentials(project), max_age=max_age)
        except gitops.GitError as exc:
            raise unavailable(exc, project.repository) from exc
        self.branches.forget(str(state.path))
        return state

    def branch_commit(self, project: RepositoryFacts, branch: str) -> str | None:
        """The branch's commit, None when the repository has no such branch. For a remote, an unknown name
        fetches the mirror once (rate-limited per project) before the answer is no."""
        try:
            directory = self.git_dir(project)
            commit = self.branches.commit(directory, branch)
        except (gitops.GitError, OSError) as exc:
            raise unavailable(exc, project.repository) from exc
        if commit is None and is_remote(project.repository) and self._may_fetch_for_unknown(project.id):
            self.refresh(project, max_age=0)
            commit = self.branches.commit(directory, branch)
        return commit

    def search(self, project: RepositoryFacts, query: str, limit: int, base: str | None) -> list[gitops.Branch]:
        try:
            return self.branches.search(self.git_dir(project), query, limit, base)
        except (gitops.GitError, OSError) as exc:
            raise unavailable(exc, project.repository) from exc

    def freshen(self, project: RepositoryFacts) -> None:
        """Before a trigger reads a remote's branch: the mirror fetched, unless a fetch is younger than
        TRIGGER_FRESH_SECONDS, so `git push && runboard runs trigger` runs what was pushed, as a forge's own Run
        button would. One fetch per mirror at a time, whoever asks; waited for up to trigger_fetch_wait_seconds (a
        forge answers in well under a second). A remote slower than that, or failing, leaves the branch as the
        mirror has it, and its fetch goes on for the next trigger (the lookup after reports a mirror that cannot
        be read at all)."""
        wait = self.settings.trigger_fetch_wait_seconds
        if wait <= 0 or not is_remote(project.repository):
            return
        fresh_for = TRIGGER_FRESH_SECONDS
        fetched_at = self.mirrors.state(project.repository).fetched_at  # a file read, no git
        if fetched_at is not None and time.time() - fetched_at < fresh_for:
            return
        with self._guard:
            if self._fetches.ended:
                return  # the server is stopping
            pending = self._freshening.get(project.repository)
            if pending is None or pending.done():
                if self._fetcher is None:
                    self._fetcher = ThreadPoolExecutor(4, thread_name_prefix='trigger-fetch')
                pending = self._fetcher.submit(self._fetch_owned, project, fresh_for)
                self._freshening[project.repository] = pending
        try:
            pending.result(timeout=wait)
        except FutureTimeout:
            log.info('fetching %s took over %.0f s: its trigger reads the mirror as it is', project.id, wait)
        except DomainError as exc:
            log.info('fetching %s before its trigger failed: %s', project.id, exc.detail)
        except ChildStopped:
            pass  # the server is stopping

    def _fetch_owned(self, project: RepositoryFacts, max_age: float) -> MirrorState:
        with self._fetches.scope():
            return self.refresh(project, max_age=max_age)

    def close(self) -> None:
        """The server stops: no trigger fetches any more, and a fetch under way is ended."""
        with self._guard:
            fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None:
            fetcher.shutdown(wait=False, cancel_futures=True)
        self._fetches.end_all()

    def _may_fetch_for_unknown(self, project_id: str) -> bool:
        now = time.monotonic()
        with self._guard:
            last = self._unknown_fetch_at.get(project_id)
            if last is not None and now - last < self.settings.unknown_branch_fetch_seconds:
                return False
            self._unknown_fetch_at[project_id] = now
            return True

    # -- what the UI shows
    def state(self, project: RepositoryFacts) -> RepositoryState:
        location = classify(project.repository) if project.repository else None
        remote = is_remote(project.repository)
        mirror = self.mirrors.state(project.repository) if remote else None
        return RepositoryState(
            kind=location.kind if location else 'path',
            display=location.display if location else project.repository,
            remote=remote,
            has_credentials=bool(project.credentials_kind and project.credentials_secret),
            credentials_kind=project.credentials_kind,
            fetched_at=mirror.fetched_at if mirror else None,
            error=mirror.error if mirror else None,
            error_code=failure_code(mirror.error) if mirror and mirror.error else None,
            fetch_seconds=mirror.fetch_seconds if mirror else None,
        )


def mirror_for_run(access: RepositoryAccess, project: RepositoryFacts, commit: str | None) -> Path:
    """The engine's mirror for a run of a remote project: fetched if stale; when the remote fails but the
    mirror already holds the admitted commit, the run goes on from it."""
    path = access.mirrors.path(project.repository)
    try:
        return access.refresh(project, max_age=access.settings.mirror_refresh_min_seconds).path
    except DomainError:
        if commit and (path / 'HEAD').exists() and gitops.has_commit(path, commit):
            return path
        raise
