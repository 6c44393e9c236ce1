"""The words every layer shares: run statuses and kinds, roles, event types, the active/terminal status
sets (and their SQL predicate), and UTC time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any, overload


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(value: datetime | str) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | str | None) -> datetime | None:
    """Every stored time is UTC; SQLite hands some back naive, raw SQL may hand back ISO text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Role(str, Enum):
    builder = 'builder'
    operator = 'operator'


class RunStatus(str, Enum):
    queued = 'queued'
    running = 'running'
    succeeded = 'succeeded'
    failed = 'failed'
    timed_out = 'timed_out'
    crashed = 'crashed'
    stopped = 'stopped'
    # issue 18 (docs/triggers.md): a run asked for later waits `delayed` (holding nothing: no slot, no PR lock,
    # no quota) until it is due; refused then, it ends `skipped`; still queued when its TTL passes, `expired`
    delayed = 'delayed'
    expired = 'expired'
    skipped = 'skipped'
    # issue 37 (docs/triggers.md, "On push and pull requests"): a queued push run a newer push to its branch replaced
    cancelled = 'cancelled'


ACTIVE_STATUSES = (RunStatus.queued.value, RunStatus.running.value)
WAITING_STATUSES = (RunStatus.delayed.value,)  # not active (holds nothing) and not ended
TERMINAL_STATUSES = tuple(s.value for s in RunStatus if s.value not in ACTIVE_STATUSES + WAITING_STATUSES)
# the runs list's status filter also takes this (GitHub's `status=waiting`): delayed runs that wait for an
# operator's approval (services/runs/approvals.py); a run's own status is `delayed`
AWAITING_APPROVAL = 'awaiting_approval'
APPROVAL_WAITING, APPROVAL_APPROVED = 'waiting', 'approved'
AWAITING_APPROVAL_SQL = "status = 'delayed' AND approval = 'waiting'"  # the runs an operator has to approve


def awaits_approval(run: Mapping[str, Any]) -> bool:
    """AWAITING_APPROVAL_SQL asked of a run as the API answers it (a page's row, the CLI's table)."""
    return run.get('status') == 'delayed' and run.get('approval') == APPROVAL_WAITING


RETRYABLE_STATUSES = ('failed', 'timed_out', 'crashed', 'stopped', 'expired', 'skipped', 'cancelled')
# automatic retries (services/runs/auto_retry.py): the ends a project may have retried, the default ones (the
# machine's fault or a hang, not the code's: GitLab's system failures), and the key an automatic retry is made under
AUTO_RETRY_STATUSES = ('crashed', 'timed_out', 'failed')
AUTO_RETRY_DEFAULT = ('crashed', 'timed_out')
AUTO_RETRY_KEY_PREFIX = 'auto-retry:'
ACTIVE_SQL = "status IN ('queued', 'running')"  # the exact predicate of the partial unique indexes
# Runs the AFK loop launched itself (no person behind them); hand-started AFK runs carry their user.
LOOP_RUN_SQL = "kind = 'auto' AND user_id IS NULL"
ACTIVE_LOOP_RUN_SQL = f'{LOOP_RUN_SQL} AND {ACTIVE_SQL}'

# a run's timeline events that are lines its command printed: its raw log (GET /runs/{id}/log, `runs logs --raw`)
OUTPUT_EVENT_TYPES = ('output', 'annotation')


class RunKind(str, Enum):
    manual = 'manual'
    retry = 'retry'
    auto = 'auto'
    scheduled = 'scheduled'  # fired by a schedule, as its owner; neutral for the AFK counter like manual runs
    push = 'push'  # a pushed head the project's push rules select, as the rules' owner (services/triggers/)
    pull_request = 'pull_request'  # a pull request's head, opened, synchronized or reopened


# what a rule can subscribe to; `ping` (the Test button) goes to a rule whatever it subscribes to
RUN_EVENTS = ('run.failed', 'run.timed_out', 'run.crashed', 'run.succeeded', 'run.stopped')
APPROVAL_EVENT = 'run.awaiting_approval'  # a builder's run of a protected branch waits for an operator (no end)
AFK_EVENTS = ('project.auto_paused', 'issue.parked', 'project.cost_capped')
EVENT_TYPES = (*RUN_EVENTS, APPROVAL_EVENT, *AFK_EVENTS)

# what the audit log records (services/identity/audit.py writes them, the audit page says them in words): the one
# list the API's `action` filter checks (an action, or a group: the words before one of its dots, e.g. `run`)
AUDIT_ACTIONS = (
    'run.triggered',
    'run.retried',
    'run.stopped',
    'run.approved',
    'afk.started',
    'afk.enabled',
    'afk.disabled',
    'afk.reset',
    'project.created',
    'project.updated',
    'project.hook_secret_rotated',
    'project.badge_key_rotated',
    'project.badges_removed',
    'project.caches_cleared',
    'project.deleted',
    'project.variable.set',
    'project.variable.removed',
    'project.secret.set',
    'project.secret.removed',
    'token.created',
    'token.revoked',
    'person.created',
    'person.role_changed',
    'person.removed',
    'schedule.created',
    'schedule.updated',
    'schedule.paused',
    'schedule.resumed',
    'schedule.deleted',
    'schedule.fired',
    'run.pushed',
    'run.pull_request',
    'webhook.created',
    'webhook.updated',
    'webhook.secret_rotated',
    'webhook.deleted',
)
