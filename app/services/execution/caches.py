"""Run caches (docs/pipelines.md, "Caches"; GitLab's `cache:`, GitHub's actions/cache): a directory that outlives
a run, on the machine that runs it, given to each run as $RUNBOARD_CACHE_DIR (read-write in the sandbox) for the
tools' own caches (pip, npm, Go modules...). A pipeline opts in by pointing its tools there; nothing else in a
run's environment changes.

Two caches per project, kept apart as GitLab keeps protected and unprotected branches': runs on the base branch
read and write `base`; every other run (a feature branch, a pull request, an AFK agent's branch) `branches`. So
nothing a branch puts in a cache reaches the base branch's runs.

Clearing a project's caches raises its cache generation in the database: each executor then gives the project's
runs a new, empty directory and removes the old ones when no run of its own uses them, on every machine, with no
message to any worker. A cache that has grown past RUNBOARD_CACHE_MAX_BYTES when its last run ends is emptied the
same way (the next run fills it again): the size is checked where the runs are, never on a schedule.

What the API shows and does: the caches' generation and sizes, and the clear, which any member of the project's
team may do (as anyone who can push may delete a GitHub Actions cache: a broken cache breaks their builds); the
audit log records who did."""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from app.infra.db import session_scope
from app.models import Project, RunCachesPublic, Worker, WorkerCachesPublic, utcnow
from app.services.execution.workers import state_of
from app.services.identity import audit
from app.services.identity.accounts import Principal
from app.services.projects import visibility

SCOPES = ('base', 'branches')


def cache_scope(branch: str, base_branch: str) -> str:
    """Pure: which of the project's two caches a run on `branch` reads and writes."""
    return 'base' if branch == base_branch else 'branches'


def cache_path(root: Path, project_id: str, generation: int, scope: str) -> Path:
    return root / project_id / str(generation) / scope


def tree_bytes(path: Path) -> int:
    """The bytes of the files below `path`, links not followed (a run may leave one pointing anywhere)."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def tidy(root: Path, project_ids: set[str]) -> list[str]:
    """Remove the caches of projects that no longer exist (deleted while this machine was away); returns which."""
    if not root.is_dir():
        return []
    gone = [entry.name for entry in root.iterdir() if entry.is_dir() and entry.name not in project_ids]
    for name in gone:
        remove_tree(root / name)
    return gone


def project_ids(engine: Engine) -> set[str]:
    with Session(engine) as session:
        return set(session.exec(select(Project.id)).all())


def remove_tree(path: Path) -> None:
    """Out of the way at once (renamed beside it), then deleted: a run starting meanwhile gets a new, empty one."""
    moved = moved_aside(path)
    if moved is not None:
        shutil.rmtree(moved, ignore_errors=True)


def moved_aside(path: Path) -> Path | None:
    """`path` renamed to a hidden name beside it (None: it was not there), for deleting at leisure."""
    aside = path.with_name(f'.removed-{uuid.uuid4().hex}')
    try:
        path.rename(aside)
    except OSError:  # gone already (another server's tidy, a clear here)
        return None
    return aside


class RunCaches:
    """An executor's caches under `root` (its data dir's caches/): which runs use which, and the clean-up. What a
    run is handed and what is moved aside are decided under one lock, so a run is never handed a directory that a
    clear or the size limit is taking away; the deleting itself happens outside it."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root, self.max_bytes = root, max_bytes
        self.in_use: Counter[Path] = Counter()
        self.lock = threading.Lock()
        self.measured: dict[Path, int] = {}  # a cache's bytes when its last run here ended (what a worker reports)

    def acquire(self, project_id: str, generation: int, scope: str) -> Path:
        """The run's cache directory (made if new); older generations of the project go when unused here."""
        path = cache_path(self.root, project_id, generation, scope)
        with self.lock:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.in_use[path] += 1
            used = [other for other, count in self.in_use.items() if count]
            stale = [
                older
                for older in (self.root / project_id).iterdir()
                if older.name != str(generation) and not any(older in other.parents for other in used)
            ]
            aside = [moved_aside(older) for older in stale]
        for moved in aside:
            if moved is not None:
                shutil.rmtree(moved, ignore_errors=True)
        return path

    def release(self, path: Path) -> None:
        """The run that used `path` ended: when it was the last one here and the cache is past the limit, empty it."""
        with self.lock:
            self.in_use[path] -= 1
            last = self.in_use[path] <= 0
            if last:
                del self.in_use[path]
        if not last:
            return
        size = tree_bytes(path)
        self.measured[path] = size
        if not (self.max_bytes and size > self.max_bytes):
            return
        with self.lock:  # measured outside the lock; a run may have been handed it meanwhile
            moved = None if self.in_use[path] else moved_aside(path)
        if moved is not None:
            self.measured[path] = 0
            shutil.rmtree(moved, ignore_errors=True)

    def measure_left(self) -> None:
        """At a worker's start, what the caches earlier runs left on this machine hold (a run that ends meanwhile
        measures its own again)."""
        if not self.root.is_dir():
            return
        for project in self.root.iterdir():
            generations = [entry for entry in project.iterdir() if entry.name.isdigit()] if project.is_dir() else []
            for scope in SCOPES:
                path = max(generations, key=lambda entry: int(entry.name), default=project) / scope
                if generations and path.is_dir() and path not in self.measured:
                    self.measured[path] = tree_bytes(path)

    def report(self) -> dict[str, dict]:
        """What this machine holds, as a worker's beat tells it: each project's newest generation measured here and
        its caches' bytes when their last run ended (a cache in use now: as it was then)."""
        found: dict[str, dict] = {}
        for path, size in list(self.measured.items()):
            project_id, generation, scope = path.parent.parent.name, int(path.parent.name), path.name
            if not path.is_dir():  # cleared or tidied away since
                self.measured.pop(path, None)
                continue
            entry = found.get(project_id)
            if entry is None or entry['generation'] < generation:
                entry = found[project_id] = {'generation': generation, 'sizes': {}}
            if entry['generation'] == generation:
                entry['sizes'][scope] = size
        return found


def usage(root: Path, project_id: str, generation: int) -> dict[str, int]:
    """Bytes of each of the project's current caches under `root` (a cache no run has used yet: absent)."""
    found = {}
    for scope in SCOPES:
        path = cache_path(root, project_id, generation, scope)
        if path.is_dir():
            found[scope] = tree_bytes(path)
    return found


def on_workers(session: Session, project: Project, heartbeat_seconds: float) -> list[WorkerCachesPublic]:
    """Each live Celery worker's caches of the project's current generation, as its beats last said (a worker whose
    runs have not used them since it started, or since a clear: none)."""
    now, found = utcnow(), []
    for row in session.exec(select(Worker).order_by(col(Worker.name))).all():
        state = state_of(row, now=now, heartbeat_seconds=heartbeat_seconds)
        if state in ('stopped', 'lost'):  # its machine's caches are out of reach
            continue
        held = (row.caches or {}).get(project.id) or {}
        sizes = held.get('sizes', {}) if held.get('generation') == project.cache_generation else {}
        found.append(WorkerCachesPublic(worker=row.name, state=state, sizes=sizes))
    return found


def caches_of(
    engine: Engine,
    principal: Principal,
    project_id: str,
    caches_dir: Path,
    executor: Literal['local', 'celery'],
    *,
    heartbeat_seconds: float,
    clear: bool = False,
) -> RunCachesPublic:
    """The project's caches: their generation and sizes, on this server's machine (local executor) or on each live
    worker's. `clear`: first raise the generation, so every machine's next run starts with empty caches (runs under
    way keep theirs to the end)."""
    with session_scope(engine) as session:
        project = visibility.get_visible(session, project_id, principal)
        if clear:
            session.connection().execute(  # raised in the UPDATE itself: two clears at once make two generations
                update(Project)
                .where(col(Project.id) == project_id)
                .values(cache_generation=col(Project.cache_generation) + 1, caches_cleared_at=utcnow())
            )
            audit.record(
                session,
                principal,
                'project.caches_cleared',
                team_id=project.team_id,
                project_id=project_id,
                target=project_id,
            )
            session.refresh(project)
        workers = on_workers(session, project, heartbeat_seconds) if executor == 'celery' else []
        answer = RunCachesPublic(
            project_id=project.id,
            generation=project.cache_generation,
            cleared_at=project.caches_cleared_at,
            executor=executor,
            sizes={},
            workers=workers,
        )
    if executor == 'local':  # measured after the transaction: a large cache's walk holds no connection
        answer.sizes = usage(caches_dir, project_id, answer.generation)
    return answer
