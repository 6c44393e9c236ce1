"""The end of a run: the worktree it starts from, the outcome it ends with (pure: decide_outcome), and the
terminal write, retried so a database hiccup at the last moment does not leave the run `running`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from app.infra.db import session_scope
from app.models import RunStatus
from app.services.execution.live import ClaimedRun
from app.services.execution.output_ingest import FLUSH_RETRY_SECONDS
from app.services.execution.reaper import KillReason, classify_run, finish_run
from app.services.repositories import gitops
from app.services.repositories.access import ProjectRepository, RepositoryAccess, is_remote, mirror_for_run

log = logging.getLogger(__name__)
FINISH_ATTEMPTS = 5
SHUTDOWN_ERROR = 'server stopped while the run was in progress'
PULL_REQUEST_MESSAGE = 'its pull request was found; the process group was ended'


@dataclass(frozen=True)
class Outcome:
    status: RunStatus
    error: str | None
    message: str | None  # the terminal event's text


def decide_outcome(
    *,
    forced: RunStatus | None,
    exit_code: int | None,
    kill_reason: KillReason,
    has_pull_request: bool,
    error: str | None,
) -> Outcome:
    """Pure. The status is reaper.classify_run's (a pull request wins, then `forced`, then the process's own
    fate); the error and the terminal event's text follow from why it ended."""
    status = classify_run(
        exit_code=exit_code, kill_reason=kill_reason, has_pull_request=has_pull_request, forced=forced
    )
    if kill_reason == 'shutdown':
        error = error or SHUTDOWN_ERROR
    message = PULL_REQUEST_MESSAGE if kill_reason == 'pull_request' else error
    return Outcome(status, error, message)


async def finish_with_retries(engine: Engine, run_id: str, **outcome: Any) -> dict[str, Any] | None:
    for attempt in range(FINISH_ATTEMPTS):
        try:
            return await asyncio.to_thread(finish_run, engine, run_id=run_id, **outcome)
        except Exception:
            log.exception('reaping run %s failed (attempt %d)', run_id, attempt + 1)
            if attempt == FINISH_ATTEMPTS - 3 and outcome.get('output'):
                log.error('run %s: storing without its last %d output lines', run_id, len(outcome['output']))
                outcome['output'] = None  # in case they are what fails: the terminal status matters more
            await asyncio.sleep(FLUSH_RETRY_SECONDS * (attempt + 1))
    return None


def prepare_worktree(
    engine: Engine, mirrors_dir: Path, repositories: RepositoryAccess, run: ClaimedRun, worktree: Path
) -> str:
    """A fresh worktree from the repository's mirror at the commit the run was admitted at (or, for a run
    admitted without one, the ref's head now); records both on the run. Returns the commit checked out."""
    admitted = run.get('commit_sha')
    if is_remote(run['repository']):
        mirror_for_run(repositories, ProjectRepository.of_run(run), admitted)
        with repositories.mirrors.locked(run['repository']) as mirror:  # no fetch while the worktree is added
            commit = gitops.add_worktree(mirror, worktree, run['checkout_ref'], admitted)
        gitops.git('remote', 'set-url', 'origin', run['repository'], cwd=worktree)  # where an agent pushes
    else:
        mirror = gitops.refresh_mirror(mirrors_dir, run['repository'])
        commit = gitops.add_worktree(mirror, worktree, run['checkout_ref'], admitted)
    with session_scope(engine) as session:
        session.connection().execute(
            text('UPDATE run SET worktree_path = :p, commit_sha = :c WHERE id = :id'),
            {'p': str(worktree), 'c': commit, 'id': run['id']},
        )
    return commit
