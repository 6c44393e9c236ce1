"""Output ingest of a running run: read its merged stdout/stderr, mask secrets (masking.py; a run declaring more
`::add-mask::` values than its cap gets one warning annotation), cut over-long lines, turn workflow commands into
their events (app/core/workflow_commands.py: stages, groups, annotations), open the "run" stage for output printed
before any stage marker, bound the stored lines (one visible truncation event), and store batches in order while the
process runs, pausing the pipe when the database falls behind (back-pressure)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

from app.config import Settings
from app.core.workflow_commands import Usage, event_of, remasked, runboard_annotation, usage_of
from app.infra.db import session_scope
from app.infra.events import EventBus
from app.services.execution.masking import CAPPED_TITLE
from app.services.runs import usage as run_usage
from app.services.runs.timeline import OUTPUT_KINDS, Appended, append_events

if TYPE_CHECKING:
    from app.services.execution.live import LiveRun

log = logging.getLogger(__name__)
RUN_STAGE = 'run'  # the stage of output printed before the command's first `::stage::` marker
READ_CHUNK = 64 * 1024
FLUSH_SECONDS = 0.05
# SQLite's one server stores the lines and answers every follower's read of them: a round twice as long halves both
# the write transactions and the reads a busy run page makes (bench/fanout.py: 82 -> 69 % of a core at 10,000
# lines/s, follower lag p99 still under 300 ms). With workers, 50 ms holds the lag p99 under 500 ms; 100 did not.
SQLITE_FLUSH_SECONDS = 0.1
FLUSH_LINES = 10_000  # events per INSERT transaction
FLUSH_RETRY_SECONDS = 1.0
MAX_BUFFERED_LINES = 50_000  # back-pressure: past this, stop reading until the buffer is stored


def flush_seconds_for(dialect: str) -> float:
    """Pure: the length of an output round on this database."""
    return SQLITE_FLUSH_SECONDS if dialect == 'sqlite' else FLUSH_SECONDS


class OutputIngest:
    def __init__(self, *, settings: Settings, engine: Engine, bus: EventBus) -> None:
        self.settings, self.engine, self.bus = settings, engine, bus
        self.flush_seconds = flush_seconds_for(engine.dialect.name)
        self._following: dict[str, LiveRun] = {}  # runs whose output the flusher stores, by id
        self._flusher: asyncio.Task[None] | None = None
        self._storing: _Round | None = None  # the store in progress

    async def read(self, live: LiveRun, stream: asyncio.StreamReader) -> None:
        pending = b''
        limit = self.settings.max_line_chars
        while True:
            while live.buffered_lines >= MAX_BUFFERED_LINES:  # the database is behind: let the pipe fill
                await asyncio.sleep(self.flush_seconds)
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
        if line.startswith('::usage ') and (usage := usage_of(line)) is not None:  # stays a line; also counted
            live.usage.append(usage)  # past the truncation too: the run's spend is in its last lines, mostly
        self._buffer_line(live, line)
        if (warning := live.masker.take_warning()) is not None:  # past the truncation too: a value shows unmasked
            kind, text = runboard_annotation('warning', warning, title=CAPPED_TITLE)
            live.buffer.append((kind, live.masker.mask(text)))

    def _buffer_line(self, live: LiveRun, line: str) -> None:
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
        if kind in ('stage', 'group'):  # unescaped (`%25`): masked again as it will be shown
            body = live.masker.mask(body)
        elif kind == 'annotation':
            body = remasked(body, live.masker.mask)
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
        """Until the run's output is done, this instance's flusher stores its lines with every other run's; then
        a store of its lines in progress ends (never cancelled: output after the terminal status), and the rest
        goes with the terminal status."""
        self._following[live.run_id] = live
        self._start_flusher()
        try:
            await live.output_done.wait()
        finally:
            self._following.pop(live.run_id, None)
        storing = self._storing
        if storing is not None and live.run_id in storing.runs:  # the run is out of every later round
            with contextlib.suppress(Exception):
                await asyncio.shield(storing.task)
        if live.usage:  # the last lines go with the terminal status; their spend is stored now, before the end is
            usage, live.usage = live.usage, []  # written (the end's notifications and the AFK cost cap read it)
            try:
                await asyncio.to_thread(self._store_usage, live.run_id, live.project_id, usage)
            except Exception:
                log.exception('storing the usage of run %s failed', live.run_id)

    def _start_flusher(self) -> None:
        task = self._flusher
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            self._flusher = asyncio.create_task(self._flush_rounds(), name='output-flusher')

    async def _flush_rounds(self) -> None:
        """Every flush_seconds, the lines every running run printed since, in one hand-over to a thread (and on SQLite
        one transaction: _store_parts), and one `run.output` event per run a round, published together."""
        loop = asyncio.get_running_loop()
        while self._following:
            began = loop.time()
            due = [
                live
                for live in self._following.values()
                if live.buffer and not live.output_done.is_set() and live.store_again_at <= began
            ]
            if due:
                storing = _Round({live.run_id for live in due}, asyncio.ensure_future(self.flush_many(due)))
                self._storing = storing
                try:
                    await storing.task
                except Exception:  # the parts went back to their buffers: try again later
                    log.exception('storing the output of %d runs failed', len(due))
                    for live in due:
                        live.store_again_at = began + FLUSH_RETRY_SECONDS
                finally:
                    self._storing = None
            await asyncio.sleep(max(0.0, self.flush_seconds - (loop.time() - began)))

    def _store_usage(self, run_id: str, project_id: str, usage: list[Usage]) -> None:
        with session_scope(self.engine) as session:
            run_usage.record(session.connection(), run_id, project_id, usage)  # the run ended: nothing to stop

    async def flush_many(self, lives: list[LiveRun]) -> None:
        """Store these runs' buffered events, each run's in order, and publish one `run.output` event per run.
        Only the flusher calls this, one round at a time, and the reaper stores the rest after the run's flush
        loop ended, so seq order is the order lines arrived. A run whose part could not be stored gets it back
        at the front of its buffer."""
        parts = [_Part.take(live) for live in lives if live.buffer]
        if not parts:
            return
        try:
            stored = await asyncio.to_thread(self._store_parts, parts)
        except BaseException:
            for part in parts:
                part.give_back()
            raise
        events = []
        for part in parts:
            outcome = stored[part.live.run_id]
            if isinstance(outcome, Exception):  # its part goes back to its buffer: stored again a little later
                log.error('storing output of run %s failed', part.live.run_id, exc_info=outcome)
                part.give_back()
                part.live.store_again_at = asyncio.get_running_loop().time() + FLUSH_RETRY_SECONDS
                continue
            event = {
                'type': 'run.output',
                'id': part.live.run_id,
                'project_id': part.live.project_id,
                'team_id': part.live.team_id,
                'last_seq': outcome.last_seq,
                'output_lines': outcome.output_lines,  # the count under its log, kept true while it runs
            }
            if any(kind == 'stage' for kind, _ in part.batch):
                event['stage'] = True  # the run's stages changed: lists showing it re-read it (not every batch)
            if part.usage:
                event['usage'] = True  # its spend changed: a run page showing it re-reads it
            events.append(event)
        if events:
            self.bus.publish_many(events)  # through Redis: one message a round

    def _store_parts(self, parts: list[_Part]) -> dict[str, Appended | Exception]:
        """SQLite has one writer at a time: all parts go in one transaction, which takes the write lock once a round
        instead of once per run (when it fails, one run's part could spoil it: each goes alone). PostgreSQL locks
        rows: a transaction holding several runs' rows deadlocked with the heartbeat's UPDATE of the same rows
        taken in another order (bench/fanout.py --team), so there each run's part commits alone."""
        if len(parts) > 1 and self.engine.dialect.name == 'sqlite':
            try:
                with session_scope(self.engine) as session:
                    return {part.live.run_id: self._append(session.connection(), part) for part in parts}
            except Exception:
                log.warning('storing the output of %d runs together failed; storing each alone', len(parts))
        outcomes: dict[str, Appended | Exception] = {}
        for part in parts:
            try:
                with session_scope(self.engine) as session:
                    outcomes[part.live.run_id] = self._append(session.connection(), part)
            except Exception as exc:
                outcomes[part.live.run_id] = exc
        return outcomes

    @staticmethod
    def _append(conn: Connection, part: _Part) -> Appended:
        run_id, project_id = part.live.run_id, part.live.project_id
        last = Appended(0, 0)
        for start in range(0, len(part.batch), FLUSH_LINES):  # bounded statements; one transaction
            chunk = part.batch[start : start + FLUSH_LINES]
            lines = sum(1 for kind, _ in chunk if kind in OUTPUT_KINDS)
            last = append_events(conn, run_id, chunk, output_lines=lines)
        if part.usage:  # the `::usage::` lines' spend, in the lines' own transaction (runs/usage.py)
            run_usage.record(conn, run_id, project_id, part.usage)
            run_usage.stop_if_over_cap(conn, run_id, project_id)  # if the project says so
        return last


@dataclass
class _Part:
    """One run's buffered events (and `::usage::` spend) taken for a store."""

    live: LiveRun
    batch: list[tuple[str, str]]
    usage: list[Usage]
    lines: int

    @classmethod
    def take(cls, live: LiveRun) -> _Part:
        part = cls(live, live.buffer, live.usage, live.buffered_lines)
        live.buffer, live.usage = [], []
        live.stored_lines += live.buffered_lines  # counted before the store, so the bound holds meanwhile
        live.buffered_lines = 0
        return part

    def give_back(self) -> None:
        """Keep order: the unstored part goes first next time."""
        live = self.live
        live.buffer[:0] = self.batch
        live.usage[:0] = self.usage
        live.stored_lines -= self.lines
        live.buffered_lines += self.lines


@dataclass(frozen=True)
class _Round:
    runs: set[str]
    task: asyncio.Future[None]
