"""Collecting a run's artifacts when its command has ended: walk `$RUNBOARD_ARTIFACTS_DIR` (links are not
followed: the server reads the directory outside the sandbox, so a link to its own files must stay a link),
decide what is kept (pure `plan`), upload each kept file to the store from an open descriptor (O_NOFOLLOW),
write the rows, and parse the JUnit XML among the kept files into test results. Runs on whoever executed the run
(the server's engine or a worker), before the terminal status, so `run.failed` notifications carry the failures.

Everything read from the files and stored (test names, messages, traces and output, the summary, the files' names,
the previews of text files) is masked with the run's own masking first, as its log is (masked.py); the files
themselves are kept as they are.

What the log says: one line with the count and size kept, one `::warning` annotation per refused file (listed at
the top of the run page), one line with the test totals."""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, Engine, Table

from app.core.workflow_commands import runboard_annotation
from app.infra.db import insert_new, session_scope
from app.models import utcnow
from app.models.artifacts import Artifact, RunCoverage, RunSummary, RunTestCase, RunTestReport
from app.services.artifacts import coverage, junit
from app.services.artifacts.masked import (
    NAME_MASKED,
    PREVIEW_BYTES,
    Masks,
    NoMasks,
    is_previewed,
    masked_name,
    masked_preview,
    shown_text,
)
from app.services.artifacts.retention import SUMMARY_KEPT_BYTES, SUMMARY_PATH
from app.services.artifacts.store import ArtifactStore

log = logging.getLogger(__name__)
artifact_table: Table = Artifact.__table__  # type: ignore[attr-defined]
report_table: Table = RunTestReport.__table__  # type: ignore[attr-defined]
case_table: Table = RunTestCase.__table__  # type: ignore[attr-defined]
coverage_table: Table = RunCoverage.__table__  # type: ignore[attr-defined]
summary_table: Table = RunSummary.__table__  # type: ignore[attr-defined]

MAX_FILES = 10_000  # past this the rest is refused (a run that writes a million files is not keeping artifacts)
MAX_PATH = 1024
STORE_FAILURES_TO_GIVE_UP = 3  # uploads failing one after another: the rest of the run's files are not tried
MAX_REFUSAL_LINES = 20  # annotations for refused files; the rest are counted in one line
TEXT_TYPES = {'.log': 'text/plain', '.txt': 'text/plain', '.md': 'text/markdown', '.xml': 'application/xml'}


@dataclass(frozen=True)
class Found:
    """One entry of the artifacts directory, as lstat saw it."""

    path: str  # relative, '/'-separated
    size: int
    problem: str | None = None  # set: it cannot be kept whatever the limit (a link, a device, an unshowable name)


@dataclass(frozen=True)
class Decision:
    path: str
    size: int
    keep: bool
    refused: str | None = None


def human_size(size: int) -> str:
    value = float(size)
    for unit in ('bytes', 'KB', 'MB', 'GB'):
        if value < 1024 or unit == 'GB':
            return f'{int(value)} bytes' if unit == 'bytes' else f'{value:.1f} {unit}'
        value /= 1024
    return f'{size} bytes'


def plan(found: list[Found], *, limit: int, max_files: int = MAX_FILES) -> list[Decision]:
    """Pure: in path order, keep each file while the run's kept total stays within `limit`; a file that would
    pass it is refused and the next ones are still considered (a smaller one may fit). Links, devices and names
    that cannot be shown are refused whatever their size; past `max_files` entries the rest are refused."""
    decisions: list[Decision] = []
    kept = 0
    for index, entry in enumerate(sorted(found, key=lambda f: f.path)):
        if index >= max_files:
            decisions.append(Decision(entry.path, entry.size, False, f'more than {max_files} files: not kept'))
        elif entry.problem:
            decisions.append(Decision(entry.path, entry.size, False, entry.problem))
        elif kept + entry.size > limit:
            decisions.append(
                Decision(
                    entry.path,
                    entry.size,
                    False,
                    f'{human_size(entry.size)} would take the run past its artifact limit of {human_size(limit)} '
                    f'({human_size(kept)} kept); RUNBOARD_MAX_ARTIFACT_BYTES',
                )
            )
        else:
            kept += entry.size
            decisions.append(Decision(entry.path, entry.size, True))
    return decisions


def _name_problem(relative: str) -> str | None:
    try:
        relative.encode('utf-8')
    except UnicodeEncodeError:
        return 'its name is not UTF-8: not kept'
    if len(relative) > MAX_PATH:
        return f'its path is longer than {MAX_PATH} characters: not kept'
    if any(ord(ch) < 32 or ch == '\x7f' or ch == '\\' for ch in relative):
        return 'its name holds control characters or a backslash: not kept'
    return None


def walk(top: Path) -> list[Found]:
    """Every entry under `top` that is not a directory, without following links (lstat only)."""
    found: list[Found] = []
    if not top.is_dir():
        return found
    for folder, dirs, files in os.walk(top, followlinks=False):
        base = Path(folder)
        for name in [*dirs, *files]:
            full = base / name
            try:
                info = full.lstat()
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                continue  # os.walk goes into it (a link to a directory is no S_ISDIR under lstat)
            relative = full.relative_to(top).as_posix()
            problem = _name_problem(relative)
            if problem is None and stat.S_ISLNK(info.st_mode):
                problem = 'a symbolic link, not a file: not kept (copy the file into the artifacts directory)'
            elif problem is None and not stat.S_ISREG(info.st_mode):
                problem = 'not a regular file: not kept'
            found.append(Found(relative, info.st_size if stat.S_ISREG(info.st_mode) else 0, problem))
        if len(found) > MAX_FILES * 2:
            break
    return found


def content_type(path: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in TEXT_TYPES:
        return TEXT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(path, strict=False)
    return guessed or 'application/octet-stream'


class _Limited:
    """A reader of at most `size` bytes (a file that grew after the plan adds nothing past its planned size)."""

    def __init__(self, source: IO[bytes], size: int) -> None:
        self.source, self.left = source, size

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b''
        block = self.source.read(self.left if n < 0 else min(n, self.left))
        self.left -= len(block)
        return block


def _open_regular(full: Path) -> IO[bytes]:
    fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError('not a regular file')
        return os.fdopen(fd, 'rb')
    except BaseException:
        os.close(fd)
        raise


@dataclass
class Collected:
    notes: list[tuple[str, str]] = field(default_factory=list)  # timeline events for the run's log
    kept: list[str] = field(default_factory=list)
    refused: list[Decision] = field(default_factory=list)
    tests: junit.Totals | None = None
    coverage: coverage.Coverage | None = None


def _masked_entry(entry: Found, masks: Masks) -> Found:
    shown = masked_name(entry.path, masks)
    return entry if shown is None else Found(shown, entry.size, NAME_MASKED)


def collect(
    engine: Engine, store: ArtifactStore, run: dict[str, Any], top: Path, *, limit: int, masks: Masks | None = None
) -> Collected:
    """Keep the run's artifacts and test results (see the module's docstring), what is read from them masked with
    `masks` (the run's). Never raises for a file or the store: what could not be kept is refused with the reason; the
    run's end must not wait on it."""
    masks = masks or NoMasks()
    done = Collected()
    run_id = run['id']
    decisions = plan([_masked_entry(entry, masks) for entry in walk(top)], limit=limit)
    if not decisions:
        return done
    now = utcnow()
    rows: list[dict[str, Any]] = []
    failed_in_a_row, last_failure = 0, ''
    for decision in decisions:
        if decision.keep and failed_in_a_row >= STORE_FAILURES_TO_GIVE_UP:
            # the store is down (an outage, a full disk): each further file would go through its retries again
            reason = f'not tried: {failed_in_a_row} files in a row could not be stored ({last_failure})'[:500]
            decision = Decision(decision.path, decision.size, False, reason)
        elif decision.keep:
            try:
                source = _open_regular(top / decision.path)
            except OSError as exc:  # gone or replaced since the walk: the file's own problem, not the store's
                decision = Decision(decision.path, decision.size, False, f'could not be read: {exc}'[:500])
            else:
                try:
                    with source:
                        store.upload(_Limited(source, decision.size), run_id, decision.path)  # type: ignore[arg-type]
                    failed_in_a_row = 0
                except Exception as exc:  # this one is not kept, the others may be
                    log.warning('run %s: artifact %s not stored', run_id, decision.path, exc_info=True)
                    failed_in_a_row, last_failure = failed_in_a_row + 1, f'{type(exc).__name__}: {exc}'
                    reason = f'could not be stored in {store.describe()}: {last_failure}'[:500]
                    decision = Decision(decision.path, decision.size, False, reason)
        (done.kept.append(decision.path) if decision.keep else done.refused.append(decision))
        kind = content_type(decision.path)
        rows.append(
            {
                'run_id': run_id,
                'path': decision.path,
                'size': decision.size,
                'content_type': kind,
                'stored': decision.keep,
                'refused': decision.refused[:500] if decision.refused else None,
                'created_at': now,
                'preview_checked': decision.keep,
                'preview': _preview(top, decision, masks) if decision.keep and masks and is_previewed(kind) else None,
            }
        )
    coverage_files = [(path, top / path) for path in done.kept if coverage.looks_like_coverage(path)]
    covered = coverage.parse_reports(coverage_files) if coverage_files else None
    reports = [(path, top / path) for path in done.kept if junit.looks_like_report(path)]
    parsed = junit.parse_reports(reports, masks.mask) if reports else None
    summary = _summary(top, decisions, masks) if SUMMARY_PATH in done.kept else None
    with session_scope(engine) as session:
        conn = session.connection()
        insert_new(conn, artifact_table, rows, ['run_id', 'path'])
        if parsed is not None and (parsed.reports or parsed.problems):
            write_tests(conn, run, parsed, now=now)
        if covered is not None and covered.coverage is not None:
            write_coverage(conn, run, covered.coverage, covered.reports or [], now=now)
        if summary is not None:
            insert_new(conn, summary_table, [{'run_id': run_id, **summary, 'created_at': now}], ['run_id'])
    done.tests = parsed.totals if parsed is not None and parsed.reports else None
    done.coverage = covered.coverage if covered is not None else None
    done.notes = _notes(done, parsed, store, covered)
    return done


def _preview(top: Path, decision: Decision, masks: Masks) -> str | None:
    """The file's preview masked, when masking changes it (masked.masked_preview); a file that cannot be read
    again has no preview kept, and its preview shows what the store has."""
    try:
        with _open_regular(top / decision.path) as source:
            data = _Limited(source, min(decision.size, PREVIEW_BYTES)).read()
    except OSError:
        log.warning('the preview of an artifact could not be read', exc_info=True)
        return None
    return masked_preview(data, cut=decision.size > len(data), masks=masks)


def _summary(top: Path, decisions: list[Decision], masks: Masks) -> dict[str, Any] | None:
    """The summary the run wrote (`$RUNBOARD_SUMMARY`), its first SUMMARY_KEPT_BYTES, masked: the row its page reads.
    None when it is empty or could not be read (its artifact is still listed)."""
    size = next(d.size for d in decisions if d.path == SUMMARY_PATH and d.keep)
    if not size:
        return None
    try:
        with _open_regular(top / SUMMARY_PATH) as source:
            data = _Limited(source, min(size, SUMMARY_KEPT_BYTES)).read()
    except OSError:
        log.warning('the summary of a run could not be read', exc_info=True)
        return None
    return {'text': shown_text(data, cut=size > len(data), masks=masks), 'size': size, 'cut': size > len(data)}


def write_coverage(
    conn: Connection, run: dict[str, Any], figure: coverage.Coverage, reports: list[str], *, now: Any
) -> None:
    row = {
        'run_id': run['id'],
        'project_id': run['project_id'],
        'branch_name': run['branch_name'],
        'percent': figure.percent,
        'lines_covered': figure.lines_covered,
        'lines_valid': figure.lines_valid,
        'reports': json.dumps(reports),
        'created_at': now,
    }
    insert_new(conn, coverage_table, [row], ['run_id'])


def write_tests(conn: Connection, run: dict[str, Any], parsed: junit.Parsed, *, now: Any) -> None:
    totals = parsed.totals
    insert_new(
        conn,
        report_table,
        [
            {
                'run_id': run['id'],
                'project_id': run['project_id'],
                'branch_name': run['branch_name'],
                'commit_sha': run.get('commit_sha'),
                'total': totals.total,
                'passed': totals.passed,
                'failed': totals.failed,
                'errors': totals.errors,
                'skipped': totals.skipped,
                'duration_seconds': round(totals.duration_seconds, 3),
                'reports': json.dumps(parsed.reports),
                'problems': '\n'.join(parsed.problems) or None,
                'created_at': now,
            }
        ],
        ['run_id'],
    )
    rows = [
        {
            'run_id': run['id'],
            'idx': idx,
            'test_id': case.test_id[:1000],
            'classname': case.classname,
            'name': case.name,
            'status': case.status,
            'duration_seconds': case.duration_seconds,
            'message': case.message,
            'trace': case.trace,
            'system_out': case.system_out,
            'system_err': case.system_err,
            'report': report[:1024],
        }
        for idx, (report, case) in enumerate(parsed.cases)
    ]
    for start in range(0, len(rows), 5000):
        insert_new(conn, case_table, rows[start : start + 5000], ['run_id', 'idx'])


def _notes(
    done: Collected, parsed: junit.Parsed | None, store: ArtifactStore, covered: coverage.Parsed | None = None
) -> list[tuple[str, str]]:
    """What the run's log says about what it left. Runboard's own lines are `status` events (shown as its status
    changes are), so they are not counted, downloaded or sent as lines the run printed; a refusal is a warning
    `runboard_annotation`: listed (and counted) with the run's annotations, and not a line it printed either."""
    notes: list[tuple[str, str]] = []
    if done.kept:
        notes.append(('status', f'Artifacts: {len(done.kept)} kept'))
    for decision in done.refused[:MAX_REFUSAL_LINES]:
        notes.append(
            runboard_annotation('warning', decision.refused or '', title='Artifact refused', file=decision.path)
        )
    if len(done.refused) > MAX_REFUSAL_LINES:
        notes.append(('status', f'Artifacts: {len(done.refused) - MAX_REFUSAL_LINES} more refused (see the list)'))
    if parsed is not None and parsed.reports:
        t = parsed.totals
        errors = 'error' if t.errors == 1 else 'errors'
        notes.append(
            (
                'status',
                f'Tests: {t.total} ({t.passed} passed, {t.failed} failed, {t.errors} {errors}, {t.skipped} skipped) '
                f'from {", ".join(parsed.reports[:5])}',
            )
        )
    for problem in (parsed.problems if parsed else [])[:5]:
        notes.append(runboard_annotation('warning', problem, title='Test report unreadable'))
    if covered is not None and covered.coverage is not None:
        figure = covered.coverage
        lines = f' ({figure.lines_covered:,} of {figure.lines_valid:,} lines)' if figure.lines_valid else ''
        notes.append(
            ('status', f'Coverage: {figure.percent:.2f} %{lines} from {", ".join((covered.reports or [])[:5])}')
        )
    for problem in ((covered.problems or []) if covered else [])[:5]:
        notes.append(runboard_annotation('warning', problem, title='Coverage report unreadable'))
    return notes


STAGING_STALE_SECONDS = 3600.0


@dataclass(frozen=True)
class ArtifactKeeper:
    """What an executor (the server's engine, a worker) needs to give a run its artifacts directory and keep
    what it leaves there: the database, the store, the limit and a staging folder in its own data dir."""

    engine: Engine
    store: ArtifactStore
    staging: Path  # <data dir>/artifact-uploads: one folder per running run, bound read-write into its sandbox
    limit: int

    def prepare(self, run_id: str) -> Path:
        """A fresh, empty folder for the run (a leftover of an earlier attempt is emptied first)."""
        folder = self.staging / run_id
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, mode=0o700)
        return folder

    def keep(self, run: dict[str, Any], folder: Path, masks: Masks | None = None) -> list[tuple[str, str]]:
        """Collect (what is read from the files masked with `masks`, the run's), then remove the folder; the timeline
        events to add to the run's log. Never raises."""
        try:
            return collect(self.engine, self.store, run, folder, limit=self.limit, masks=masks).notes
        except Exception as exc:  # the database or the store at the last moment: the run still ends
            log.exception('run %s: keeping its artifacts failed', run.get('id'))
            return [runboard_annotation('warning', f'{type(exc).__name__}: {exc}', title='Artifacts not kept')]
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def tidy(self, active: set[str], *, now: float | None = None) -> list[str]:
        """Staging folders of runs that are no longer active (an executor killed mid-run), older than an hour."""
        removed: list[str] = []
        if not self.staging.is_dir():
            return removed
        moment = time.time() if now is None else now
        for folder in self.staging.iterdir():
            try:
                old = moment - folder.stat().st_mtime > STAGING_STALE_SECONDS
            except OSError:
                continue
            if folder.name not in active and old:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
        return removed
