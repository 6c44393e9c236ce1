"""When the AFK sweep runs: an APScheduler interval job, woken early by kicks (auto switched on, a project
reset, a run ended, an issue became ready). A kick during a sweep buys one more round, never a lost
wakeup; in team mode a kick on any instance wakes every instance's loop through the bus."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from app.config import Settings
from app.infra.events import EventBus, of_types

log = logging.getLogger(__name__)
JOB_ID = 'afk-sweep'
MAX_KICK_ROUNDS = 5


class SweepSchedule:
    def __init__(self, *, settings: Settings, bus: EventBus, sweep: Callable[[], Any]) -> None:
        self.settings, self.bus, self.sweep = settings, bus, sweep
        self.instance_id = uuid.uuid4().hex[:12]
        self._scheduler: AsyncIOScheduler | None = None
        self._listener: asyncio.Task[None] | None = None
        self._pending = False
        self._sweeping = False

    def install(self, scheduler: AsyncIOScheduler) -> None:
        self._scheduler = scheduler
        scheduler.add_job(
            self._job,
            'interval',
            seconds=self.settings.afk_sweep_seconds,
            id=JOB_ID,
            max_instances=1,
            coalesce=True,
            replace_existing=True,
            next_run_time=datetime.now(UTC),
        )
        if self.settings.redis_url:  # team mode: a kick on any instance wakes every instance's loop
            self._listener = asyncio.get_running_loop().create_task(self._follow_kicks())

    async def _follow_kicks(self) -> None:
        queue = self.bus.subscribe(of_types('afk.kick'))
        try:
            while True:
                event = await queue.get()
                if event.get('type') == 'afk.kick' and event.get('from') != self.instance_id:
                    self._kick_here()
        finally:
            self.bus.unsubscribe(queue)

    async def _job(self) -> None:
        self._sweeping = True
        try:
            for _ in range(MAX_KICK_ROUNDS):  # a kick that arrives mid-sweep gets one more round, not a lost wakeup
                self._pending = False
                try:
                    await asyncio.to_thread(self.sweep)
                except Exception:  # noqa: BLE001 - the next sweep tries again
                    log.exception('AFK sweep failed')
                if not self._pending:
                    return
        finally:
            self._sweeping = False
            if self._pending:  # a kick raced the end of the last round: sweep again once this job is done
                asyncio.get_running_loop().call_later(0.05, self._kick_here)

    def kick(self) -> None:
        """Sweep now (auto switched on, a project reset, a run ended, an issue became ready)."""
        self._kick_here()
        if self.settings.redis_url:  # the lease may be held elsewhere: that instance sweeps once more
            self.bus.publish({'type': 'afk.kick', 'from': self.instance_id})

    def _kick_here(self) -> None:
        self._pending = True
        scheduler = self._scheduler
        if scheduler is None or not scheduler.running or self._sweeping:
            return  # a sweep under way sees _pending and goes round once more
        try:
            scheduler.modify_job(JOB_ID, next_run_time=datetime.now(UTC))
        except Exception:  # noqa: BLE001 - job gone (shutting down): nothing to kick
            pass

    def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
