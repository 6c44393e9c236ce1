"""The AFK auto-loop: a periodic sweep that, for each project with auto on, launches one auto run on
its next claimable ready issue when should_launch_auto holds; hand starts; auto on/off; Reset.

The database decides every race: the launch transaction re-reads the gates (counter, auto switch,
global cap, in-flight auto run) under a write lock, claims the issue (partial unique index) and
creates the run (one active loop run per project: partial unique index), or does nothing at all.
Hand-started AFK runs ("Start AFK run") are additive: bounded by the global cap and by claims only.
In team mode a Redis lease additionally keeps the sweeps of several instances from overlapping.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlmodel import Session, select

from app.config import Settings
from app.core.errors import DomainError
from app.infra.db import is_sqlite, session_scope
from app.infra.events import EventBus
from app.models import Project, RunKind, RunPublic, as_utc, utcnow
from app.services.afk import claims, costs
from app.services.afk.candidates import claimable_candidates, ready_local_issues
from app.services.afk.lease import SweepLease
from app.services.afk.project_view import SweepClock
from app.services.afk.rules import capped_today, closed_gate, is_cost_capped, is_paused, should_launch_auto
from app.services.identity.accounts import Principal
from app.services.repositories.issue_sources import IssueRecord, afk_branch, is_forge
from app.services.runs import sql as run_sql
from app.services.runs.timeline import timed_sql
from app.services.runs.writer import RunSpec
from app.services.scheduling.periodic import BURST_SETTLE_SECONDS, PeriodicJob

if TYPE_CHECKING:
    from app.services.runs.admit import RunAdmitter

log = logging.getLogger(__name__)
KICK_EVENT = 'afk.kick'
LAUNCH_LOCK_KEY = 727002  # PostgreSQL advisory lock serialising AFK launches across servers


class NotLaunched(Exception):
    """The launch transaction found a gate closed (facts changed since the sweep read them)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # 'global_cap' | 'paused' | 'auto_off' | 'in_flight' | 'launch_failed'


class ClaimTaken(Exception):
    """Someone (another sweep, another server) claimed or settled this issue first."""


@dataclass
class SweepReport:
    launched: list[str] = field(default_factory=list)  # run ids
    considered: int = 0
    stopped_by: str | None = None  # 'global_cap' | 'lease_held'
    cost_capped: list[str] = field(default_factory=list)  # projects the daily cost cap holds


class AfkLoop:
    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        admitter: RunAdmitter,
        bus: EventBus,
        lease: SweepLease | None = None,
    ) -> None:
        self.engine, self.settings, self.admitter, self.bus = engine, settings, admitter, bus
        self.lease = lease
        self.clock = utcnow  # what "today" is for the cost cap (tests move it to the next UTC day)
        self.instance_id = uuid.uuid4().hex[:12]
        # woken early by kicks; in team mode a kick on any instance wakes every instance's loop through the bus
        self.job = PeriodicJob(
            'afk-sweep',
            settings.afk_sweep_seconds,
            lambda: self.sweep(),  # late-bound: tests wrap sweep
            at_start=True,
            wakes_on=self._kick_from_elsewhere if settings.redis_url else None,
            settle=BURST_SETTLE_SECONDS,
        )

    # ------------------------------------------------------------ the sweep
    def sweep_clock(self) -> SweepClock:
        """When this server's sweep looks for work next, for the projects the API answers."""
        return SweepClock(next_at=self.job.next_pass_at(), global_run_cap=self.settings.global_run_cap)

    def sweep(self) -> SweepReport:
        if self.lease is not None and not self.lease.acquire():
            return SweepReport(stopped_by='lease_held')
        try:
            return self._sweep()
        finally:
            if self.lease is not None:
                self.lease.release()

    def _sweep(self) -> SweepReport:
        report = SweepReport()
        now = self.clock()
        with Session(self.engine) as session:
            conn = session.connection()
            active = run_sql.count_active(conn)
            if active >= self.settings.global_run_cap:  # the global cap stops the sweep before it starts
                report.stopped_by = 'global_cap'
                return report
            auto = list(session.exec(select(Project).where(Project.auto_enabled == True)).all())  # noqa: E712
            if not auto:
                return report
            in_flight = run_sql.projects_with_loop_run_in_flight(conn)
            last_launch = run_sql.last_auto_launch(conn)
            local_ready = ready_local_issues(conn, {p.id for p in auto if not is_forge(p.issue_source)})
            blocked = claims.blocked_numbers(conn)
            spend = {p.id: costs.capped(conn, p, now) for p in auto if p.afk_cost_cap_usd_per_day is not None}
        # Fairness under the cap: the project whose last auto run is oldest goes first.
        epoch = datetime.min.replace(tzinfo=UTC)
        auto.sort(key=lambda p: (as_utc(last_launch.get(p.id)) or epoch, p.id))
        for project in auto:
            report.considered += 1
            facts = dict(
                auto_enabled=True,
                paused=is_paused(project.consecutive_failures),
                loop_run_in_flight=project.id in in_flight,
                under_global_cap=active < self.settings.global_run_cap,
                launch_blocked=project.launch_error is not None,
                cost_capped=spend.get(project.id, (False, 0.0))[0],
            )
            if facts['cost_capped']:
                report.cost_capped.append(project.id)
                self._note_capped(project, spend[project.id][1], now)
            if not facts['under_global_cap']:
                report.stopped_by = 'global_cap'
                break
            if not should_launch_auto(**facts, claimable_issue=True):
                continue  # closed before we even look for an issue (no forge call for a paused project)
            try:
                candidates = claimable_candidates(project, local_ready, blocked)
            except DomainError as exc:
                log.warning('AFK: issues of %s unavailable: %s', project.id, exc.detail)
                continue
            if not should_launch_auto(**facts, claimable_issue=bool(candidates)):
                continue
            try:
                run = self.launch_first(project, candidates, principal=None, gated=True)
            except NotLaunched as exc:
                if exc.reason == 'global_cap':
                    report.stopped_by = 'global_cap'
                    break
                continue
            except DomainError as exc:  # e.g. the project was deleted or moved meanwhile: the others go on
                log.warning('AFK: could not launch for %s: %s', project.id, exc.detail)
                continue
            if run is not None:
                report.launched.append(run.id)
                active += 1
        if report.launched:
            log.info('AFK sweep launched %d run(s)', len(report.launched))
        return report

    def _note_capped(self, project: Project, spent: float, now: datetime) -> None:
        """The cap was reached: record the day on the project (the card's reason) and notify, once a day."""
        if capped_today(project.afk_cost_capped_on, now):
            return
        with session_scope(self.engine) as session:
            noted = costs.mark_capped(
                session.connection(),
                project_id=project.id,
                project_name=project.name,
                cap=float(project.afk_cost_cap_usd_per_day or 0),
                spent=spent,
                now=now,
            )
        if noted:
            log.info('AFK: %s reached its cost cap (%.2f USD today)', project.id, spent)
            publish_project(self.bus, project)

    # ------------------------------------------------------------ launching
    def launch_first(
        self,
        project: Project,
        candidates: list[IssueRecord],
        *,
        principal: Principal | None,
        gated: bool,
        correlation_id: str | None = None,
    ) -> RunPublic | None:
        """Launch on the first candidate nobody else holds. NotLaunched propagates (gate closed)."""
        for issue in candidates:
            try:
                return self._launch(project, issue, principal=principal, gated=gated, correlation_id=correlation_id)
            except ClaimTaken:
                continue
            except DomainError as exc:
                if exc.error == 'pr_lock':  # afk/<N> is busy with someone's run: try the next issue
                    continue
                raise
        return None

    def _launch(
        self,
        project: Project,
        issue: IssueRecord,
        *,
        principal: Principal | None,
        gated: bool,
        correlation_id: str | None,
        retry_of: str | None = None,
    ) -> RunPublic:
        settings = self.settings
        source = project.issue_source or {}
        depth = source['depth_level'] if source.get('depth_level') in project.depth_levels else project.depth_levels[0]
        framework = (
            source['target_framework']
            if source.get('target_framework') in project.target_frameworks
            else project.target_frameworks[0]
        )
        spec = RunSpec(
            project.id,
            depth,
            framework,
            afk_branch(issue.number),
            kind=RunKind.auto.value,
            issue_number=issue.number,
            issue_title=issue.title[:500],
            checkout_ref=project.base_branch,
            retry_of=retry_of,
        )

        def before_insert(conn: Connection) -> None:
            if not is_sqlite(str(self.engine.url)):
                conn.execute(text('SELECT pg_advisory_xact_lock(:k)'), {'k': LAUNCH_LOCK_KEY})
            if not gated:  # a hand-started AFK run is additive: only the global cap and claims bound it
                return
            in_flight = run_sql.loop_run_in_flight(conn, project.id)
            row = conn.execute(
                timed_sql(
                    'SELECT auto_enabled, consecutive_failures, launch_error, afk_cost_cap_usd_per_day, '
                    'afk_cost_cap_reset_at FROM project WHERE id = :p',
                    columns=('afk_cost_cap_reset_at',),
                ),
                {'p': project.id},
            ).first()
            if row is None:
                raise NotLaunched('auto_off')
            cap = row[3]
            gate = closed_gate(
                auto_enabled=bool(row[0]),
                paused=is_paused(row[1]),
                loop_run_in_flight=in_flight,
                under_global_cap=run_sql.count_active(conn) < settings.global_run_cap,
                launch_blocked=row[2] is not None,
                cost_capped=cap is not None
                and is_cost_capped(cap_usd=cap, spent_usd=costs.spent_today(conn, project.id, row[4], self.clock())),
            )
            if gate is not None:
                raise NotLaunched(gate)

        def after_insert(conn: Connection, run: RunPublic) -> None:
            if not claims.claim_in(
                conn, project_id=project.id, issue_number=issue.number, issue_title=issue.title, run_id=run.id
            ):
                raise ClaimTaken()
            body = issue.body
            if not body and not is_forge(project.issue_source):
                body = (
                    conn.execute(
                        text('SELECT body FROM issue WHERE project_id = :p AND number = :n'),
                        {'p': project.id, 'n': issue.number},
                    ).scalar()
                    or ''
                )
            conn.execute(text('UPDATE run SET issue_body = :b WHERE id = :id'), {'b': body, 'id': run.id})

        run = self.admitter.writer.create(
            principal,
            project,
            spec,
            key=None,
            fingerprint=None,
            correlation_id=correlation_id,
            bypass_concurrency=True,
            before_insert=before_insert,
            after_insert=after_insert,
        )
        publish_project(self.bus, project)  # the admitter announced the run and woke the queue
        return run

    def launch_retry(
        self, project: Project, issue: IssueRecord, *, principal: Principal, retry_of: str, correlation_id: str | None
    ) -> RunPublic:
        """A person's retry of an AFK run: a new AFK run on the same issue, as a hand start (not gated)."""
        try:
            return self._launch(
                project, issue, principal=principal, gated=False, correlation_id=correlation_id, retry_of=retry_of
            )
        except ClaimTaken:
            raise DomainError(
                409, 'issue_busy', f'Issue #{issue.number} was just taken by another AFK run; see its runs.'
            ) from None

    # ------------------------------------------------------------ waking the sweep
    def kick(self) -> None:
        """Sweep now (auto switched on, a project reset, a run ended, an issue became ready)."""
        self.job.wake()
        if self.settings.redis_url:  # the lease may be held elsewhere: that instance sweeps once more
            self.bus.publish({'type': KICK_EVENT, 'from': self.instance_id})

    def _kick_from_elsewhere(self, event: dict) -> bool:
        return event.get('type') == KICK_EVENT and event.get('from') != self.instance_id

    def close(self) -> None:
        if self.lease is not None:
            self.lease.close()


def publish_project(bus: EventBus, project: Project) -> None:
    """A project changed: its card and page redraw on every server."""
    bus.publish({'type': 'project', 'id': project.id, 'project_id': project.id, 'team_id': project.team_id})
