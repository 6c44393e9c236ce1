"""The notification outbox: the deliveries an event creates, written inside the transaction of the change that
raised it (a run's end: reaper.finish_run, which wins once across every server), so a change without its
deliveries (or deliveries without the change) cannot exist. (rule_id, event_key) is unique besides, so even a
second writer of the same event adds nothing. Nothing here sends: notify_sender.py does, apart."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select, text
from sqlalchemy.dialects import postgresql, sqlite

from app.core import ids
from app.models import Delivery, NotificationRule, utcnow
from app.models.vocabulary import APPROVAL_EVENT, RUN_EVENTS
from app.services.afk.rules import AFK_PAUSE_THRESHOLD, feeds_counter
from app.services.artifacts import reads as artifact_reads
from app.services.notifications.payloads import EventFacts, stored
from app.services.notifications.rules import run_end_events
from app.services.runs import usage as run_usage
from app.services.runs.retry_rule import WINDOW, attempt_of, planned_retry
from app.services.runs.timeline import read_annotations, timed_sql

rules_table: Table = NotificationRule.__table__  # type: ignore[attr-defined]
deliveries_table: Table = Delivery.__table__  # type: ignore[attr-defined]

RUN_FACTS_SQL = (
    'SELECT r.id, r.status, r.kind, r.branch_name, r.commit_sha, r.depth_level, r.target_framework, r.exit_code, '
    'r.error, r.issue_number, r.issue_title, r.retry_of, r.created_at, r.started_at, r.finished_at, '
    'r.pusher, r.pr_number, r.pr_title, r.pr_url, '
    'u.name AS user_name, p.name AS project_name, c.title AS commit_title '
    'FROM run r JOIN project p ON p.id = r.project_id LEFT JOIN "user" u ON u.id = r.user_id '
    'LEFT JOIN commit_info c ON c.sha = r.commit_sha WHERE r.id = :id'
)
_RUN_TIMES = ('created_at', 'started_at', 'finished_at')


def enabled_rules(conn: Connection, project_id: str) -> list[dict[str, Any]]:
    query = select(rules_table.c.id, rules_table.c.events).where(
        rules_table.c.project_id == project_id, rules_table.c.enabled
    )
    return [dict(row._mapping) for row in conn.execute(query)]


# a retry that ended without running tells nothing: the end of the run it retried, held back for it ('retried as'),
# is told after all
SQL_TELL_ORIGINAL = timed_sql(
    "UPDATE delivery SET status = 'pending', next_attempt_at = :now, last_error = NULL, updated_at = :now "
    "WHERE status = 'skipped' AND last_error = :said AND run_id = (SELECT retry_of FROM run WHERE id = :id)",
    binds=('now',),
)


def record_run_end(
    conn: Connection,
    *,
    run_id: str,
    project_id: str,
    kind: str,
    status: str,
    launch_failed: bool = False,
    claim_active: bool = True,
) -> int:
    """In finish_run's transaction, after the run's end is written: one delivery per enabled rule of the project
    for each event the end raised that the rule subscribes to. Returns the deliveries created. A project
    without rules costs one indexed read."""
    rules = enabled_rules(conn, project_id)
    if not rules:
        return 0
    if f'run.{status}' not in RUN_EVENTS:  # it ended without running (expired, cancelled, skipped): no event of its own
        conn.execute(SQL_TELL_ORIGINAL, {'id': run_id, 'said': f'retried as {run_id}', 'now': utcnow()})
    failures_after = None
    if feeds_counter(kind):
        failures_after = conn.execute(
            text('SELECT consecutive_failures FROM project WHERE id = :p'), {'p': project_id}
        ).scalar()
    events = run_end_events(
        kind=kind, status=status, launch_failed=launch_failed, failures_after=failures_after, claim_active=claim_active
    )
    wanted = [event for event in events if any(event in rule['events'] for rule in rules)]
    if not wanted:
        return 0
    row = conn.execute(timed_sql(RUN_FACTS_SQL, columns=_RUN_TIMES), {'id': run_id}).mappings().one()
    run = {key: value for key, value in row.items() if key != 'project_name'}
    run['annotations'] = read_annotations(conn, run_id)  # its ::error/::warning/::notice lines, stored before its end
    if 'run.failed' in wanted:  # what failed (docs/artifacts.md): its test results and last lines, read before its end
        run['tests'] = artifact_reads.failed_tests_summary(conn, run_id)
        run['log_tail'] = read_log_tail(conn, run_id)
    spent = run_usage.by_run(conn, [run_id]).get(run_id)  # its ::usage:: lines, stored before its end
    run['usage'] = spent.model_dump() if spent else None
    project = {'id': project_id, 'name': row['project_name']}
    now = utcnow()
    created = 0
    run['attempt'] = attempt_of(conn, run_id) if row['retry_of'] else 1
    # an end the project retries automatically tells nothing yet: its retry's end will (auto_retry.py holds it)
    held = kind != 'auto' and status in ('failed', 'timed_out', 'crashed') and planned_retry(conn, run_id) is not None
    for event in wanted:
        facts = EventFacts(
            event_id=ids.new_run_id(prefix='evt_'),
            type=event,
            created_at=now,
            base_url='',
            project=project,
            run=run,
            issue=_parked_issue(conn, run_id) if event == 'issue.parked' else None,
            afk={'consecutive_failures': failures_after, 'threshold': AFK_PAUSE_THRESHOLD}
            if event == 'project.auto_paused'
            else None,
        )
        targets = [rule['id'] for rule in rules if event in rule['events']]
        created += len(
            insert_deliveries(
                conn,
                targets,
                facts,
                event_key=f'{event}:{run_id}',
                run_id=run_id,
                now=now,
                held_until=now + WINDOW if held and event == f'run.{status}' else None,
            )
        )
    return created


# runs that wait for an operator's approval and have no such delivery yet: told once (the unique event key),
# by whichever server looks first (services/runs/approvals.py)
SQL_AWAITING = timed_sql(
    "SELECT r.id, r.project_id FROM run r WHERE r.status = 'delayed' AND r.approval = 'waiting' "
    'AND r.created_at > :since AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.run_id = r.id '
    "AND d.event_type = 'run.awaiting_approval') "
    # a rule that asks for it (else runs no rule asks about, never told, would fill the page for good)
    'AND EXISTS (SELECT 1 FROM notificationrule n WHERE n.project_id = r.project_id AND n.enabled '
    f'AND CAST(n.events AS TEXT) LIKE \'%"{APPROVAL_EVENT}"%\') '
    'ORDER BY r.id LIMIT 100',
    binds=('since',),
)


def record_awaiting_approvals(conn: Connection, since: datetime) -> int:
    """One delivery per enabled rule subscribed to `run.awaiting_approval`, for each run that waits for an
    operator since `since`; returns the deliveries created. With none waiting: one indexed read."""
    created = 0
    for run_id, project_id in conn.execute(SQL_AWAITING, {'since': since}).all():
        targets = [rule['id'] for rule in enabled_rules(conn, project_id) if APPROVAL_EVENT in rule['events']]
        if not targets:
            continue
        row = conn.execute(timed_sql(RUN_FACTS_SQL, columns=_RUN_TIMES), {'id': run_id}).mappings().one()
        run = {key: value for key, value in row.items() if key != 'project_name'}
        now = utcnow()
        facts = EventFacts(
            event_id=ids.new_run_id(prefix='evt_'),
            type=APPROVAL_EVENT,
            created_at=now,
            base_url='',
            project={'id': project_id, 'name': row['project_name']},
            run=run,
        )
        event_key = f'{APPROVAL_EVENT}:{run_id}'
        created += len(insert_deliveries(conn, targets, facts, event_key=event_key, run_id=run_id, now=now))
    return created


LOG_TAIL_LINES = 20


def read_log_tail(conn: Connection, run_id: str, lines: int = LOG_TAIL_LINES) -> list[str]:
    """The run's last output lines (masked as stored), oldest first."""
    rows = conn.execute(
        text(
            "SELECT text FROM runevent WHERE run_id = :r AND type IN ('output', 'annotation') "
            'ORDER BY seq DESC LIMIT :n'
        ),
        {'r': run_id, 'n': lines},
    ).all()
    return [row[0][:500] for row in reversed(rows)]


def _parked_issue(conn: Connection, run_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        text("SELECT issue_number, issue_title, cause FROM issueclaim WHERE run_id = :r AND state = 'parked'"),
        {'r': run_id},
    ).first()
    return {'number': row[0], 'title': row[1], 'cause': row[2]} if row else None


def insert_deliveries(
    conn: Connection,
    rule_ids: list[str],
    facts: EventFacts,
    *,
    event_key: str,
    run_id: str | None = None,
    now: datetime | None = None,
    held_until: datetime | None = None,
) -> list[str]:
    """One pending delivery per rule, due now (or `held` until `held_until`); a rule that already has this event_key
    keeps what it has. Returns the new deliveries' ids (of those a duplicate did not keep out)."""
    if not rule_ids:
        return []
    now = now or utcnow()
    rows = [
        {
            'id': ids.new_run_id(prefix='dlv_'),
            'rule_id': rule_id,
            'project_id': facts.project['id'],
            'event_id': facts.event_id,
            'event_key': event_key,
            'event_type': facts.type,
            'run_id': run_id,
            'facts': stored(facts),
            'payload': None,  # rendered by the server that first sends it (it knows its public address)
            'status': 'held' if held_until else 'pending',
            'attempts': 0,
            'round_start': 0,
            'next_attempt_at': held_until or now,
            'created_at': now,
            'updated_at': now,
        }
        for rule_id in rule_ids
    ]
    dialect = postgresql if conn.dialect.name == 'postgresql' else sqlite
    statement = (
        dialect.insert(deliveries_table)
        .on_conflict_do_nothing(index_elements=['rule_id', 'event_key'])
        .returning(deliveries_table.c.id)
    )
    return [row[0] for row in conn.execute(statement, rows)]
