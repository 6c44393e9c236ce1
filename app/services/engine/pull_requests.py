"""AFK runs on a forge: an open or merged pull request from afk/<N> means the run has done its job,
whatever its process does next (except a person's Stop)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.services.engine.live import ClaimedRun, LiveRun

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
