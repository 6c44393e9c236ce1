"""Recovery: runs left `running` by an instance that is gone end as `crashed` (or `succeeded` when their
AFK pull request exists), and their stray processes are killed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, text

from app.models import utcnow
from app.services.execution import procs, workers
from app.services.execution.live import ClaimedRun
from app.services.execution.liveness import is_orphaned, running_runs
from app.services.execution.reaper import classify_run, finish_run

log = logging.getLogger(__name__)


def recover_orphans(
    engine: Engine,
    *,
    instance_id: str,
    live_here: Collection[str],
    heartbeat_seconds: float,
    has_pull_request: Callable[[ClaimedRun], bool],
) -> list[dict[str, Any]]:
    """End every orphaned running run; the finished rows (id, project_id, team_id, status)."""
    stale_before = utcnow() - timedelta(seconds=3 * heartbeat_seconds)
    finished = []
    for run_id, owner, heartbeat, pid, kind, issue_number, project_id, issue_source, repository in running_runs(engine):
        if not is_orphaned(
            owner=owner,
            me=instance_id,
            live_here=run_id in live_here,
            heartbeat=heartbeat,
            stale_before=stale_before,
            owner_process_dead=owner != instance_id and procs.owner_is_dead(owner),
        ):
            continue
        killed = procs.kill_run_processes(run_id, pid)
        worker = workers.describe_instance(engine, owner)
        gone = f'{worker} is gone' if worker else f'owner instance {owner} is gone'
        note = f'{gone} (instance {owner})' if worker else gone
        if killed:
            note += f'; killed {killed} leftover process(es)'
        has_pr = has_pull_request(
            {
                'id': run_id,
                'kind': kind,
                'issue_number': issue_number,
                'project_id': project_id,
                'issue_source': issue_source,
                'repository': repository,
            }
        )
        done = finish_run(
            engine,
            run_id=run_id,
            status=classify_run(exit_code=None, owner_gone=True, has_pull_request=has_pr),
            error=None if has_pr else gone,  # the run's error says which machine was lost, as its last event
            message=note + ('; its pull request counts as success' if has_pr else ''),
        )
        if done:
            log.warning('run %s of project %s ended %s: %s', run_id, project_id, done['status'], note)
            finished.append({'id': run_id, **done})
    return finished


def kill_leftovers_of_dead_instances(engine: Engine, me: str) -> list[str]:
    """Processes on this machine of runs whose instance is gone (a worker killed with -9, restarted here):
    killed now, not when a server's recovery happens to run on this machine. Their runs end through
    recovery, which reads the heartbeats. Returns the run ids whose processes were killed."""
    ids = procs.run_ids_on_this_host()
    if not ids:
        return []
    with engine.connect() as conn:
        owners: dict[str, str | None] = dict(
            conn.execute(
                text('SELECT id, owner_instance FROM run WHERE id IN :ids').bindparams(
                    bindparam('ids', expanding=True)
                ),
                {'ids': sorted(ids)},
            ).all()
        )
    killed = []
    for run_id, owner in owners.items():
        if owner and owner != me and procs.owner_is_dead(owner) and procs.kill_run_processes(run_id):
            killed.append(run_id)
    return killed
