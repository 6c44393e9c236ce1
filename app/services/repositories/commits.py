"""What a run's commit is, as a person picks runs by it: its title (the message's first line), its author and when it
was made, shown beside the sha in the runs list, on the run page and by the CLI.

Kept in `commit_info` (a commit never changes, so a row is never updated). Learned when a run checks its commit out
(once per process and commit: many runs share one), so searches and notifications know every started run's title;
and by a read of runs, with one `git log` for every commit of a page the table does not know yet (a queued run, a
run from before this table). Nothing is read at admission, the hot path. A read reaches a remote repository through
its mirror only if the mirror is there (it never clones or fetches); a commit the repository does not have yet
(pushed after the mirror's last fetch) is asked again after MISS_RETRY_SECONDS."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from math import inf
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from app.infra.db import insert_new
from app.models import CommitInfo, Project
from app.services.repositories import gitops

log = logging.getLogger(__name__)

MISS_RETRY_SECONDS = 30.0
TITLE_MAX, AUTHOR_MAX = 500, 200
_SHA = re.compile(r'[0-9a-f]{7,64}')  # what reaches git's argv is a hex object name, never an option
_FIELD, _RECORD = '\x1f', '\x1e'
LOG_FORMAT = f'--format=%H{_FIELD}%s{_FIELD}%an{_FIELD}%ct{_RECORD}'


@dataclass(frozen=True)
class CommitFacts:
    sha: str
    title: str
    author: str
    committed_at: datetime


class ReadsCommit(Protocol):
    """What fill_unknown fills (RunPublic, RunDetail)."""

    project_id: str
    commit_sha: str | None
    commit_title: str | None
    commit_author: str | None


def parse_log(listing: str) -> dict[str, CommitFacts]:
    """Pure: `git log` in LOG_FORMAT as facts by sha; a record that is not whole is left out."""
    found: dict[str, CommitFacts] = {}
    for record in listing.split(_RECORD):
        fields = record.strip('\n').split(_FIELD)
        if len(fields) != 4 or not _SHA.fullmatch(fields[0]) or not fields[3].isdigit():
            continue
        sha, title, author, seconds = fields
        found[sha] = CommitFacts(
            sha, title.strip()[:TITLE_MAX], author.strip()[:AUTHOR_MAX], datetime.fromtimestamp(int(seconds), UTC)
        )
    return found


def askable(shas: Iterable[str | None]) -> list[str]:
    """Pure: the distinct full object names among `shas`, in their order (anything else never reaches git)."""
    return list(dict.fromkeys(s for s in shas if s and _SHA.fullmatch(s)))


def read_commits(git_dir: str | Path, shas: Sequence[str]) -> dict[str, CommitFacts]:
    """The commits of `shas` that the repository at `git_dir` has, in one git call. Git runs sealed (no system or
    global config), as for any read of a repository runs can push to."""
    if not shas:
        return {}
    listing = gitops.git(
        'log', '--no-walk=unsorted', '--ignore-missing', LOG_FORMAT, *shas, '--',
        cwd=git_dir, timeout=10, env=gitops.SEALED_GIT_ENV,
    )  # fmt: skip
    return parse_log(listing)


class CommitTitles:
    """The runs' commits, read once (above). `mirrors_dir`: where a remote repository's mirror is."""

    def __init__(self, engine: Engine, mirrors_dir: Path) -> None:
        self.engine, self.mirrors_dir = engine, mirrors_dir
        self._missed: dict[str, float] = {}  # sha: when no repository had it (monotonic)
        self._known: set[str] = set()  # stored, as this process knows
        self._guard = threading.Lock()

    def fill_unknown(self, items: Sequence[ReadsCommit]) -> None:
        """Each item whose read found no title for its commit (runs.reads joins commit_info) gets it from its
        repository, where that has the commit: one git call per repository for them all, kept for every later read.
        A read of runs whose commits are known asks nothing more."""
        unknown = [item for item in items if item.commit_title is None and askable([item.commit_sha])]
        if not unknown:
            return
        learned = self._learn(unknown)
        for item in unknown:
            facts = learned.get(item.commit_sha or '')
            if facts is not None:
                item.commit_title, item.commit_author = facts.title, facts.author

    def learn(self, checkout: Path, sha: str) -> None:
        """The commit a run just checked out at `checkout`, stored unless it is already."""
        if sha in self._known or not askable([sha]):
            return
        if not self._stored(sha):
            try:
                self._store(read_commits(checkout, [sha]).values())
            except gitops.GitError as exc:  # the run goes on; a read of it asks again
                log.warning('could not read commit %s: %s', sha, exc)
                return
        with self._guard:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known.add(sha)

    def _stored(self, sha: str) -> bool:
        with Session(self.engine) as session:
            return session.get(CommitInfo, sha) is not None

    def _learn(self, items: Sequence[ReadsCommit]) -> dict[str, CommitFacts]:
        now = time.monotonic()
        with self._guard:
            missed = self._missed
            wanted = [i for i in items if now - missed.get(i.commit_sha or '', -inf) >= MISS_RETRY_SECONDS]
        by_project: dict[str, list[str]] = {}
        for item in wanted:
            by_project.setdefault(item.project_id, []).append(item.commit_sha or '')
        if not by_project:
            return {}
        projects = self._projects(set(by_project))
        learned: dict[str, CommitFacts] = {}
        for git_dir, shas in self._places(by_project, projects):
            try:
                learned.update(read_commits(git_dir, askable(shas)))
            except gitops.GitError:
                continue  # a repository that cannot be read now: the runs show their sha, as before
        if learned:
            self._store(learned.values())
        with self._guard:
            if len(self._missed) > 10_000:
                self._missed.clear()
            for shas in by_project.values():
                self._missed.update((sha, now) for sha in shas if sha not in learned)
        return learned

    def _projects(self, project_ids: set[str]) -> dict[str, str]:
        """Each project's repository."""
        with Session(self.engine) as session:
            rows = session.exec(select(Project.id, Project.repository).where(col(Project.id).in_(project_ids))).all()
        return {project_id: repository for project_id, repository in rows}

    def _places(self, by_project: dict[str, list[str]], projects: dict[str, str]) -> list[tuple[str, list[str]]]:
        """Where git reads each project's commits: a local repository in place, a remote one's mirror if it is there."""
        places: dict[str, list[str]] = {}
        for project_id, shas in by_project.items():
            repository = projects.get(project_id)
            if not repository:
                continue
            place = repository if gitops.is_local(repository) else str(gitops.mirror_path(self.mirrors_dir, repository))
            if Path(place).exists():
                places.setdefault(place, []).extend(shas)
        return list(places.items())

    def _store(self, facts: Iterable[CommitFacts]) -> None:
        rows: list[dict[str, Any]] = [
            {'sha': f.sha, 'title': f.title, 'author_name': f.author, 'committed_at': f.committed_at} for f in facts
        ]
        with self.engine.begin() as conn:
            insert_new(conn, CommitInfo.__table__, rows, ['sha'])  # type: ignore[attr-defined]
