"""AFK runs on a forge: an open or merged pull request from afk/<N> means the run has done its job,
whatever its process does next (except a person's Stop)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app.services.execution.live import ClaimedRun, LiveRun
from app.services.execution.reaper import KillReason

log = logging.getLogger(__name__)
PullRequestProbe = Callable[[ClaimedRun], bool]  # a run's afk/<N> pull request exists


class PullRequestCheck:
    def __init__(self) -> None:
        self.probe: PullRequestProbe | None = None  # set for forge projects by the AFK loop

    def exists(self, run: ClaimedRun) -> bool:
        """Blocking: ask the forge. A forge outage answers False: it must not lose the run's real outcome."""
        if self.probe is None or run.get('kind') != 'auto':
            return False
        try:
            return bool(self.probe(run))
        except Exception:  # noqa: BLE001
            log.warning('pull request check failed for run %s', run.get('id'), exc_info=True)
            return False

    def worth_asking(self, live: LiveRun) -> bool:
        """A live AFK run with a process, not already being ended."""
        return self.probe is not None and live.run.get('kind') == 'auto' and not live.kill_reason


async def end_runs_with_pull_requests(
    live_runs: dict[str, LiveRun],
    check: PullRequestCheck,
    *,
    emit: Callable[[LiveRun, str, str], None],
    kill: Callable[[LiveRun, KillReason], Awaitable[None]],
) -> list[str]:
    """A live AFK run whose afk/<N> pull request exists has done its job. Its process group is ended
    (TERM, grace, KILL) and the run ends succeeded, instead of holding the project's lane and a global
    slot until its budget runs out."""
    ended = []
    for live in list(live_runs.values()):
        if live.process is None or not check.worth_asking(live):
            continue
        if not await asyncio.to_thread(check.exists, live.run):
            continue
        if live.kill_reason or live.run_id not in live_runs:
            continue  # stopped or ended while we asked the forge
        number = live.run.get('issue_number')
        emit(live, 'status', f'pull request from afk/{number} found: ending the run as succeeded')
        ended.append(live.run_id)
        await kill(live, 'pull_request')
    return ended
