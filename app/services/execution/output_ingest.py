"""Output ingest of a running run: read its merged stdout/stderr, mask secrets (masking.py), cut over-long
lines, turn workflow commands into their events (app/core/workflow_commands.py: stages, groups, annotations),
open the "run" stage for output printed before any stage marker, bound the stored lines (one visible
truncation event), and store batches in order while the process runs, pausing the pipe when the database
falls behind (back-pressure)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from app.config import Settings
from app.core.workflow_commands import Usage, event_of, usage_of
from app.infra.db import session_scope
from app.infra.events import EventBus
from app.services.runs import usage as run_usage
from app.services.runs.timeline import OUTPUT_KINDS, append_events

if TYPE_CHECKING:
    from app.services.execution.live import LiveRun

log = logging.getLogger(__name__)
RUN_STAGE = 'run'  # the stage of output printed before the command's first `::stage::` marker
READ_CHUNK = 64 * 1024
FLUSH_SECONDS = 0.05
FLUSH_LINES = 10_000  # events per INSERT transaction
FLUSH_RETRY_SECONDS = 1.0
MAX_BUFFERED_LINES = 50_000  # back-pressure: past this, stop reading until the buffer is stored


class OutputIngest:
    def __init__(self, *, settings: Settings, engine: Engine, bus: EventBus) -> None:
        self.settings, self.engine, self.bus = settings, engine, bus

    async def read(self, live: LiveRun, stream: asyncio.StreamReader) -> None:
        pending = b''
        limit = self.settings.max_line_chars
        while True:
            while live.buffered_lines >= MAX_BUFFERED_LINES:  # the database is behind: let the pipe fill
                await asyncio.sleep(FLUSH_SECONDS)
            chunk = await stream.read(READ_CHUNK)
            if not chunk:
                break
            live.bytes_read += len(chunk)
            pending += chunk
            *lines, pending = pending.split(b'\n')
            for raw in lines:
                if live.cutting:  # the end of a line already emitted cut
                    live.cutting = False
                    continue
                self._emit_output(live, raw.decode('utf-8', 'replace').rstrip('\r'), limit)
            if len(pending) > limit * 4:  # a line with no end in sight: emit it cut now, drop the rest of it
                if not live.cutting:
                    self._emit_output(live, pending.decode('utf-8', 'replace'), limit, force_cut=True)
                    live.cutting = True
                pending = b''
        if pending and not live.cutting:
            self._emit_output(live, pending.decode('utf-8', 'replace').rstrip('\r'), limit)

    def _emit_output(self, live: LiveRun, line: str, limit: int, *, force_cut: bool = False) -> None:
        if '\x00' in line:  # PostgreSQL text cannot hold NUL; a store that fails would lose the batch
            line = line.replace('\x00', '\ufffd')
        line = live.masker.take_line(line)  # before anything reads it: stage names are masked too
        if len(line) > limit or force_cut:
            line = live.masker.mask_cut(line[:limit]) + f' … [line cut at {limit} characters]'
        if live.stored_lines + live.buffered_lines >= self.settings.max_output_lines:
            if not live.truncated:
                live.truncated = True
                live.buffer.append(
                    (
                        'status',
                        f'output truncated: more than {self.settings.max_output_lines} lines; the rest is not stored',
                    )
                )
            return
        kind, body = event_of(line)  # a malformed command is an ordinary output line
        if line.startswith('::usage ') and (usage := usage_of(line)) is not None:  # stays a line; also counted
            live.usage.append(usage)
        if live.awaiting_stage:  # the command's first line: output before any marker is the "run" stage's
            live.awaiting_stage = False
            if kind != 'stage':
                live.buffer.append(('stage', RUN_STAGE))
        live.buffer.append((kind, body))
        live.buffered_lines += 1  # stage lines count too: the bound protects the database from any flood

    @staticmethod
    def command_started(live: LiveRun) -> None:
        """The command runs from now: its output before any `::stage::` marker belongs to the "run" stage,
        not to the checkout before it."""
        live.awaiting_stage = True

    @staticmethod
    def command_ended(live: LiveRun) -> None:
        """A command that printed nothing still ends in the "run" stage: its result is not the checkout's."""
        if live.awaiting_stage:
            live.awaiting_stage = False
            live.buffer.append(('stage', RUN_STAGE))

    @staticmethod
    def emit(live: LiveRun, kind: str, body: str) -> None:
        live.buffer.append((kind, body))

    async def flush_loop(self, live: LiveRun) -> None:
        while not live.output_done.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(live.output_done.wait(), FLUSH_SECONDS)
            if live.buffer and not live.output_done.is_set():  # the last part goes with the terminal status
                try:
                    await self.flush(live)
                except Exception:  # the unstored part went back to the buffer: try again next round
                    log.exception('storing output of run %s failed', live.run_id)
                    await asyncio.sleep(FLUSH_RETRY_SECONDS)
        if live.usage:  # the last lines go with the terminal status; their spend is stored now, before the end is
            usage, live.usage = live.usage, []  # written (the end's notifications and the AFK cost cap read it)
            try:
                await asyncio.to_thread(self._store_usage, live.run_id, live.project_id, usage)
            except Exception:
                log.exception('storing the usage of run %s failed', live.run_id)

    def _store_usage(self, run_id: str, project_id: str, usage: list[Usage]) -> None:
        with session_scope(self.engine) as session:
            run_usage.record(session.connection(), run_id, project_id, usage)  # the run ended: nothing to stop

    async def flush(self, live: LiveRun) -> None:
        """Store the buffered events in order. Only the flush loop calls this, one flush at a time, and
        the reaper stores the rest after the loop ended, so seq order is the order lines arrived."""
        if not live.buffer:
            return
        batch = live.buffer
        live.buffer = []
        usage, live.usage = live.usage, []  # stored with the first part: with lines before and including it
        live.stored_lines += live.buffered_lines  # counted before the await, so the bound holds meanwhile
        live.buffered_lines = 0
        last_seq = 0
        for start in range(0, len(batch), FLUSH_LINES):
            part = batch[start : start + FLUSH_LINES]
            part_lines = sum(1 for kind, _ in part if kind in OUTPUT_KINDS)
            try:
                last_seq = await asyncio.to_thread(
                    self._store, live.run_id, part, part_lines, live.project_id, usage if start == 0 else []
                )
            except BaseException:
                live.buffer[:0] = batch[start:]  # keep order: the unstored rest goes first next time
                if start == 0:
                    live.usage[:0] = usage
                raise
        event = {
            'type': 'run.output',
            'id': live.run_id,
            'project_id': live.project_id,
            'team_id': live.team_id,
            'last_seq': last_seq,
        }
        if any(kind == 'stage' for kind, _ in batch):
            event['stage'] = True  # the run's stages changed: lists showing it re-read it (not every batch)
        self.bus.publish(event)

    def _store(
        self,
        run_id: str,
        batch: list[tuple[str, str]],
        lines: int,
        project_id: str = '',
        usage: list[Usage] | None = None,
    ) -> int:
        with session_scope(self.engine) as session:
            last = append_events(session.connection(), run_id, batch, output_lines=lines)
            if usage:  # the `::usage::` lines' spend, in the lines' own transaction (runs/usage.py)
                run_usage.record(session.connection(), run_id, project_id, usage)
                run_usage.stop_if_over_cap(session.connection(), run_id, project_id)  # if the project says so
            return last
