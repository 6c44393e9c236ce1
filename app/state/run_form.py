"""The Run form of one tab: the idempotency key lifecycle, the submit flow, and pure decisions about what a
refusal or a quota means for the person (banner texts, whether Run is enabled)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from app.client import ApiError, Response, RunboardClient, new_idempotency_key
from app.core.globs import protected_branch
from app.state.run_timing import clock
from app.state.runs_store import RunsStore
from app.state.text import shown

AUTO_RETRY_DELAYS = (0.3, 1.0)  # automatic retries of the same submit (same key) after a network loss
CONCURRENCY_TEXT = 'This repository is at maximum concurrency. Wait for an active run to complete and retry.'


# ------------------------------------------------------------------ pure decisions
@dataclass(frozen=True)
class Failure:
    """What the form shows after a refused or lost submit."""

    kind: str  # rate_limited | concurrency_limit | pr_lock | network | error
    message: str
    correlation_id: str | None
    status: int
    links: tuple[str, ...] = ()  # run ids the message points at
    retry_after: int | None = None


def parse_variables(text: str) -> tuple[dict[str, str], str | None]:
    """The Variables field: `NAME=value` a line (blank lines skipped, the value may hold `=` and spaces) -> the
    variables, or why not (the server judges the names themselves)."""
    variables: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition('=')
        name = name.strip()
        if not sep or not name:
            return {}, f'line {number}: write NAME=value'
        if name in variables:
            return {}, f'line {number}: {name} is given twice'
        variables[name] = value
    return variables, None


@dataclass(frozen=True)
class BranchHead:
    """The commit the chosen branch points to, as the picker's last read of the branches has it."""

    sha: str  # short
    title: str  # the commit's subject, shown inert
    committed_at: str | None  # ISO 8601 UTC, for a relative time the browser keeps true


def branch_head(branches: list[dict[str, Any]], chosen: str | None) -> BranchHead | None:
    """The chosen branch's head; None when the picker does not know it (a branch kept past a search's matches)."""
    found = next((b for b in branches if b.get('name') == chosen and b.get('commit')), None)
    if found is None:
        return None
    seconds = found.get('committed_at')
    at = datetime.fromtimestamp(seconds, UTC).isoformat() if seconds else None
    return BranchHead(found['commit'][:7], shown(found.get('subject')), at)


def typed_branch(typed: str, options: dict[str, str]) -> str | None:
    """Pure: the branch a person meant by typing `typed` in the picker and pressing Enter or leaving it without
    choosing from its list (as GitHub's branch picker takes the first match): a branch of that name, else of that
    name in another case, else the first the picker shows for it (its label holds the text, in any case); None when
    none does."""
    needle = typed.strip()
    if not needle:
        return None
    if needle in options:
        return needle
    lower = needle.lower()
    return next((name for name in options if name.lower() == lower), None) or next(
        (name for name, label in options.items() if lower in str(label).lower()), None
    )


def own_variables_reason(project: dict[str, Any], branch: str | None, text: str, *, operator: bool) -> str | None:
    """Pure: why Run would be refused for the run's own variables, said before Run (the server's rule: on a
    protected branch only operators give a run variables of its own, as it is given the protected secrets)."""
    variables, _ = parse_variables(text)
    if operator or not branch or not variables:
        return None
    base, patterns = project.get('base_branch', ''), project.get('protected_branches')
    if not protected_branch(branch, base_branch=base, patterns=patterns):
        return None
    return (
        f'Only operators give a run its own variables on protected branch {branch}: remove them, or pick another '
        'branch (project variables are set in its Settings).'
    )


def variables_text(variables: dict[str, str] | None) -> str:
    """Variables as a Variables field shows them (the inverse of parse_variables): `NAME=value` a line."""
    return '\n'.join(f'{name}={value}' for name, value in (variables or {}).items())


def run_again_query(run: dict[str, Any]) -> str:
    """The project page's query that opens the Run form filled in like `run` (its branch, depth, framework and
    variables, each variable as `var[NAME]=value`, as GitLab's "Run pipeline" page takes them in its address)."""
    pairs = [('branch', run['branch_name']), ('depth', run['depth_level']), ('framework', run['target_framework'])]
    pairs += [(f'var[{name}]', value) for name, value in (run.get('variables') or {}).items()]
    return urlencode(pairs)


def variables_from_query(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The `var[NAME]=value` pairs of a page's query (the last of a doubled name wins; the server judges names)."""
    return {key[4:-1]: value for key, value in items if key.startswith('var[') and key.endswith(']') and len(key) > 5}


def describe_failure(error: ApiError, sent_correlation_id: str | None = None) -> Failure:
    cid = error.correlation_id or sent_correlation_id
    if error.status == 429:
        seconds = max(1, error.retry_after or 1)
        return Failure(
            'rate_limited',
            f'Run limit reached. You can start a run again in {seconds} s.',
            cid,
            429,
            retry_after=seconds,
        )
    if error.status == 409 and error.error == 'concurrency_limit':
        return Failure('concurrency_limit', CONCURRENCY_TEXT, cid, 409, tuple(error.blocking_runs))
    if error.status == 409 and error.error == 'pr_lock':
        return Failure(
            'pr_lock',
            'Failure cause: pr_lock contention. Another active run holds this branch.',
            cid,
            409,
            tuple(error.blocking_runs),
        )
    if error.is_network:
        return Failure(
            'network',
            f'No answer from the server: {error.detail} Press Run to retry this submit '
            '(it cannot create a second run).',
            cid,
            0,
        )
    return Failure('error', f'{error.detail} (HTTP {error.status}, {error.error})', cid, error.status)


def is_auto_retryable(error: ApiError) -> bool:
    """Lost answers and a duplicate still in flight: sending the same key again is safe and may succeed."""
    return error.is_network or (error.status == 409 and error.error == 'idempotency_in_flight')


@dataclass(frozen=True)
class QuotaBanner:
    level: str  # amber | red
    text: str
    blocks_run: bool
    seconds_left: int


def seconds_until(moment: str | None, now: datetime) -> int:
    if not moment:
        return 0
    when = datetime.fromisoformat(moment.replace('Z', '+00:00'))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, int(-(-(when - now).total_seconds() // 1)))


def countdown_text(seconds: int) -> str:
    minutes, secs = divmod(max(0, seconds), 60)
    return f'{minutes}:{secs:02d}' if minutes else f'{secs} s'


def quota_banner(quota: dict[str, Any] | None, now: datetime) -> QuotaBanner | None:
    """Amber at <= 10 % remaining (Run stays active), red at 0 (Run disabled), nothing otherwise."""
    if not quota or not quota.get('limit'):
        return None
    remaining, limit = int(quota['remaining']), int(quota['limit'])
    if remaining <= 0:
        seconds = (
            seconds_until(quota['resets_at'], now)
            if quota.get('resets_at')
            else int(quota.get('retry_after_seconds') or 0)
        )
        return QuotaBanner('red', f'Quota exhausted — next window opens in {countdown_text(seconds)}.', True, seconds)
    if remaining * 10 <= limit:
        resets = datetime.fromisoformat(quota['resets_at'].replace('Z', '+00:00')) if quota.get('resets_at') else None
        at = clock(resets) if resets else 'the end of the window'  # in UTC: the server's own zone means nothing here
        return QuotaBanner(
            'amber',
            f'You are close to your run limit. {remaining} run{"" if remaining == 1 else "s"} remaining in the '
            f'current window (resets at {at}).',
            False,
            seconds_until(quota.get('resets_at'), now),
        )
    return None


QUOTA_REREAD_AFTER_SECONDS = 1.0  # at most one read a second while the answer still names a passed moment


def quota_stale(quota: dict[str, Any] | None, now: datetime, seconds_since_read: float) -> bool:
    """Is the quota read worth reading again: a banner (amber or red) whose window has reset since, read more than
    QUOTA_REREAD_AFTER_SECONDS ago (the window slid on: more runs are left, or fewer). An amber banner without a
    reset time is never stale (it names no moment)."""
    banner = quota_banner(quota, now)
    if banner is None or banner.seconds_left > 0 or seconds_since_read <= QUOTA_REREAD_AFTER_SECONDS:
        return False
    return banner.blocks_run or bool((quota or {}).get('resets_at'))


# ------------------------------------------------------------------ the key and the submit
@dataclass
class SubmitResult:
    response: Response | None = None
    failure: Failure | None = None
    attempts: int = 0

    @property
    def ok(self) -> bool:
        return self.response is not None


@dataclass
class RunFormState:
    """One submit action of one tab. The key is minted when the form opens and reused by every retry of
    the same submit; Reset (or re-opening the form) mints a new one. A payload that differs from the one
    the key was first sent with is a different submit (the server would refuse the old key with 422)."""

    project_id: str
    retry_of: str | None = None
    key: str = field(default_factory=new_idempotency_key)
    sent_payload: dict[str, Any] | None = None
    attempts: int = 0

    def key_for(self, payload: dict[str, Any]) -> str:
        if self.sent_payload is not None and self.sent_payload != payload:
            self.reset()
        self.sent_payload = dict(payload)
        return self.key

    def reset(self) -> None:
        self.key = new_idempotency_key()
        self.sent_payload = None
        self.attempts = 0


Sleep = Callable[[float], Awaitable[Any]]


async def submit_run(
    client: RunboardClient,
    form: RunFormState,
    store: RunsStore,
    payload: dict[str, Any],
    *,
    user_name: str | None = None,
    on_attempt: Callable[[int], Any] | None = None,
    sleep: Sleep = asyncio.sleep,
) -> SubmitResult:
    """Optimistic row, POST with the form's key (retried automatically with the same key after a network
    loss), then confirm or roll back. payload: branch, depth_level, target_framework."""
    key = form.key_for(payload)
    correlation_id = uuid.uuid4().hex
    token = store.begin_optimistic(
        {
            **payload,
            'project_id': form.project_id,
            'user_name': user_name,
            'kind': 'retry' if form.retry_of else 'manual',
        }
    )
    attempt = 0
    while True:
        attempt += 1
        form.attempts += 1
        if on_attempt is not None:
            on_attempt(attempt)
        try:
            if form.retry_of:
                reply = await client.retry_run(form.retry_of, key=key, overrides=payload, correlation_id=correlation_id)
            else:
                reply = await client.trigger_run(
                    project_id=form.project_id, key=key, correlation_id=correlation_id, **payload
                )
        except ApiError as error:
            if is_auto_retryable(error) and attempt <= len(AUTO_RETRY_DELAYS):
                await sleep(AUTO_RETRY_DELAYS[attempt - 1])
                continue
            store.rollback(token)
            return SubmitResult(failure=describe_failure(error, correlation_id), attempts=attempt)
        store.confirm(token, reply.data)
        return SubmitResult(response=reply, attempts=attempt)


def failure_after_run_update(failure: Failure, run: dict[str, Any]) -> Failure | None:
    """Pure: the banner once a run it names as active has ended (None: nothing to change). It says so
    instead of linking the run as active, so nobody is sent to wait on a run that is over."""
    if run.get('id') not in failure.links or run.get('status') in ('queued', 'running', 'stopping'):
        return None
    still = tuple(link for link in failure.links if link != run['id'])
    ended = f'{run["id"]} has ended ({run["status"]}): Run may go ahead now.'
    return replace(failure, links=still, message=f'{failure.message} {ended}')
