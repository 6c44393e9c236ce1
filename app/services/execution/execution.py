"""One run on this instance, from checkout to terminal status: a fresh checkout from the repository's mirror
(checkout.py), the process (process.py), the outcome (finishing.decide_outcome), the terminal write. The
engine then frees the slot and tidies the worktree (kept for inspection unless the run succeeded)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from app.infra.children import ChildStopped
from app.infra.secret_box import SecretUnreadable
from app.models import RunStatus
from app.services.afk.rules import LAUNCH_FAILED
from app.services.artifacts.collect import ArtifactKeeper
from app.services.execution.caches import RunCaches, cache_scope
from app.services.execution.checkout import prepare_checkout
from app.services.execution.finishing import decide_outcome, finish_with_retries
from app.services.execution.limits import Ending
from app.services.execution.live import ClaimedRun, LaunchFailed, LiveRun
from app.services.execution.masking import Masker
from app.services.execution.output_ingest import OutputIngest
from app.services.execution.process import Confinement, Kill, run_process
from app.services.execution.pull_requests import PullRequestCheck
from app.services.projects import variables as project_variables
from app.services.repositories import afk_branches, gitops
from app.services.repositories.access import RepositoryAccess, is_remote
from app.services.repositories.commits import CommitTitles
from app.services.repositories.repo_url import classify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecutionParts:
    engine: Engine
    mirrors_dir: Path
    repositories: RepositoryAccess
    output: OutputIngest
    pull_requests: PullRequestCheck  # a person's Stop wins over the forge
    kill: Kill
    confinement: Confinement
    artifacts: ArtifactKeeper | None = None  # $RUNBOARD_ARTIFACTS_DIR and keeping what the run leaves there
    caches: RunCaches | None = None  # $RUNBOARD_CACHE_DIR: the project's cache on this machine
    commits: CommitTitles | None = None  # the checked-out commit's title, for the runs list and searches


SLOW_FETCH_SECONDS = 3.0  # a run still fetching its remote this long says so in its log


def withheld_note(names: list[str], branch: str, kind: str) -> str:
    """Pure: the log's line for the protected variables a run was not given."""
    why = "a pull request's run" if kind == 'pull_request' else f'branch {branch} is not protected'
    listed = ', '.join(names[:10]) + (f' and {len(names) - 10} more' if len(names) > 10 else '')
    return f'Protected variables not given to this run ({why}): {listed}'


def limit_error(exit_code: int | None, hit: list[str]) -> str:
    """Pure: a failed run's error when it reached a limit. Killed (SIGKILL: the OOM killer's signal), the limit is the
    reason; an exit code of its own came after it (a script that went on and failed later): both are said."""
    said = '; '.join(hit)
    return said if exit_code in (-9, 137) else f'exit code {exit_code}, after {said}'


def slow_fetch_note(repository: str) -> str:
    try:
        shown = classify(repository).display
    except ValueError:
        shown = 'the remote'
    return f'Fetching from {shown} is taking a while (the remote is slow to answer); Stop ends the wait.'


async def execute_run(parts: ExecutionParts, live: LiveRun, run: ClaimedRun, worktree: Path) -> tuple[RunStatus, bool]:
    """Check out, run, reap: the run's terminal status, and whether this call wrote it."""
    live.run = run
    forced: RunStatus | None = None  # an outcome decided before the process could have one
    exit_code: int | None = None
    error: str | None = None
    launch_failed = False
    flusher = asyncio.create_task(parts.output.flush_loop(live))
    try:
        try:
            preparing = asyncio.ensure_future(asyncio.to_thread(_prepare, parts, live, run, worktree))
            if is_remote(run['repository']) and not (await asyncio.wait({preparing}, timeout=SLOW_FETCH_SECONDS))[0]:
                # the checkout stage is written once it is done (it names the commit): say why nothing shows yet
                parts.output.emit(live, 'status', slow_fetch_note(run['repository']))
            variables, commit = await preparing
            if variables.withheld:  # why $DEPLOY_KEY is empty here: said once, before the command starts
                parts.output.emit(live, 'status', withheld_note(variables.withheld, run['branch_name'], run['kind']))
            parts.output.emit(live, 'stage', f'checkout {run["checkout_ref"]} @ {commit[:12]}')
            run['commit_sha'] = commit  # RUNBOARD_COMMIT: the commit checked out
            parts.output.command_started(live)  # its first output opens the "run" stage, unless it is a marker
            exit_code = await run_process(
                live,
                run,
                worktree,
                engine=parts.engine,
                output=parts.output,
                kill=parts.kill,
                confinement=parts.confinement,
                variables=variables.environment,
            )
            hit = live.cgroup_ending.hit if live.cgroup_ending else []
            if hit and exit_code != 0 and not live.kill_reason:  # why it failed: its error says it
                error = limit_error(exit_code, hit)
            elif hit:  # it coped (or ended for another reason): its log says what it hit
                parts.output.command_ended(live)  # in the command's stage, even when it printed nothing
                for said in hit:
                    parts.output.emit(live, 'status', said)
        except ChildStopped:
            pass  # a Stop (or the server's shutdown) ended the checkout: the kill's reason is the outcome
        except (gitops.GitError, LaunchFailed) as exc:
            cause = f'checkout failed: {exc}' if isinstance(exc, gitops.GitError) else str(exc)
            error = f'{LAUNCH_FAILED}: {cause}'
            launch_failed = not live.kill_reason  # a stop during the checkout still reads stopped
            forced = None if live.kill_reason else RunStatus.failed
    except Exception as exc:  # the engine must always reap what it started
        log.exception('run %s failed inside the engine', live.run_id)
        error = f'engine error: {exc}'
        forced = RunStatus.crashed
        # a full disk fails the next run alike: the AFK loop launches no more until a person looks (its card says
        # why), as after a launch failure; else each run's end would launch the next, a crash a second
        launch_failed = True
    finally:
        try:
            ended = await _reap(
                parts,
                live,
                run,
                forced=forced,
                exit_code=exit_code,
                error=error,
                launch_failed=launch_failed,
                flusher=flusher,
                worktree=worktree,
            )
        finally:  # after the end is written: a cache past its limit is emptied then
            if parts.caches is not None and run.get('cache_dir'):
                await asyncio.to_thread(parts.caches.release, Path(run['cache_dir']))
    return ended


def _prepare(
    parts: ExecutionParts, live: LiveRun, run: ClaimedRun, worktree: Path
) -> tuple[project_variables.RunVariables, str]:
    """Blocking, in one thread hop (a trivial run is mostly its preparation): the project's variables (and
    the run's masker from its secrets), its artifacts folder, its checkout. Returns the variables and the
    commit checked out."""
    try:
        variables = project_variables.for_run(parts.engine, parts.repositories.secrets, run['project_id'], run['id'])
    except SecretUnreadable as exc:
        raise LaunchFailed(f"the project's secrets cannot be read: {exc}") from exc
    live.masker = Masker(variables.secret_values)
    if parts.artifacts is not None:
        run['artifacts_dir'] = str(parts.artifacts.prepare(run['id']))
    if parts.caches is not None:
        scope = cache_scope(run['branch_name'], run.get('base_branch') or '')
        run['cache_dir'] = str(parts.caches.acquire(run['project_id'], run.get('cache_generation') or 0, scope))
    with live.children.scope():
        commit = prepare_checkout(parts.engine, parts.mirrors_dir, parts.repositories, run, worktree)
    if parts.commits is not None:
        parts.commits.learn(worktree, commit)
    return variables, commit


async def _reap(
    parts: ExecutionParts,
    live: LiveRun,
    run: ClaimedRun,
    *,
    forced: RunStatus | None,
    exit_code: int | None,
    error: str | None,
    launch_failed: bool,
    flusher: asyncio.Task[None],
    worktree: Path | None = None,
) -> tuple[RunStatus, bool]:
    # Let the flusher finish a store in progress (cancelling it mid-store could write output after
    # the terminal status); what is left is stored with the terminal status, in one transaction.
    live.output_done.set()
    with contextlib.suppress(Exception):
        await flusher
    parts.output.command_ended(live)  # a command that printed nothing (or could not start) ends "run", not checkout
    notes, has_pr = await asyncio.to_thread(_keep_what_it_left, parts, live, run, worktree)
    live.buffer.extend((kind, live.masker.mask(body)) for kind, body in notes)
    remaining, live.buffer = live.buffer, []
    outcome = decide_outcome(
        forced=forced,
        exit_code=exit_code,
        kill_reason=live.kill_reason,
        has_pull_request=has_pr,
        error=error,
        budget_seconds=run.get('budget_seconds'),
    )
    status = outcome.status
    used = live.cgroup_ending or Ending([])  # nothing measured without a cgroup
    done = await finish_with_retries(
        parts.engine,
        live.run_id,
        status=status,
        exit_code=exit_code,
        error=outcome.error,
        output=remaining,
        launch_failed=launch_failed and not has_pr,
        message=outcome.message,
        peak_memory_bytes=used.peak_memory_bytes,
        cpu_seconds=used.cpu_seconds,
        memory_max_bytes=used.memory_max_bytes,
    )
    return status, done is not None


def _keep_what_it_left(
    parts: ExecutionParts, live: LiveRun, run: ClaimedRun, worktree: Path | None
) -> tuple[list[tuple[str, str]], bool]:
    """Blocking, in one thread hop, before the end is written (so the run's page, API and notifications of its
    end see them): its artifacts and test results (the timeline notes they make), an AFK run's afk/<N> kept
    into the data dir for a project without a forge (its page's diff), and whether its pull request exists."""
    notes: list[tuple[str, str]] = []
    if parts.artifacts is not None and run.get('artifacts_dir'):
        notes = parts.artifacts.keep(dict(run), Path(run['artifacts_dir']), live.masker)  # masked as its log
    if worktree is not None:
        afk_branches.keep_run_branch(parts.repositories.settings.data_dir, dict(run), worktree)
    has_pr = live.kill_reason == 'pull_request' or (live.kill_reason != 'stop' and parts.pull_requests.exists(run))
    return notes, has_pr


async def tidy_worktree(worktree: Path, status: RunStatus) -> None:
    try:
        if status == RunStatus.succeeded:
            await asyncio.to_thread(gitops.remove_worktree, worktree)
        else:  # kept for inspection: its retention counts from now, not from the checkout
            os.utime(worktree)
    except FileNotFoundError:
        pass  # it ended before its checkout was made (a remote that failed, a Stop during the fetch)
    except (OSError, gitops.GitError):
        log.warning('tidying the worktree %s failed', worktree, exc_info=True)
