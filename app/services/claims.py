"""AFK issue claims. A claim is unique per project + issue among unfinished claims (active, parked),
enforced by a partial unique index, so two servers can never claim one issue."""
from __future__ import annotations

from sqlalchemy import Connection, text

from app.models import utcnow


def settle_state(outcome: str) -> str:
    """Pure: a claim's state once its run has ended. Only success closes it; a failure or a
    person's stop parks the issue so it is not retried automatically."""
    return 'done' if outcome == 'success' else 'parked'


def settle_for_run(conn: Connection, *, run_id: str, outcome: str, cause: str) -> None:
    conn.execute(text(
        "UPDATE issueclaim SET state = :state, cause = :cause, updated_at = :now "
        "WHERE run_id = :run_id AND state = 'active'"),
        {'state': settle_state(outcome), 'cause': cause[:500], 'now': utcnow(), 'run_id': run_id})
