"""Commit statuses back to the forge (issue 37): each push or pull-request run posts its state on its commit,
`pending` when admitted, then `success`, `failure` or `error` when it ends, with the run page as the target URL
and the context `runboard/<project> (<push or pull_request>)`, through the GitHub, Gitea/Forgejo or GitLab API.

An outbox like the webhooks' (services/notifications): a `commit_status` row per (run, state), unique, so every
server may write it and one post exists; a loop on every server claims due rows (compare-and-set on the row's
attempts) and posts them, retried with the webhooks' backoff (RUNBOARD_NOTIFICATION_BACKOFF_SECONDS,
..._MAX_ATTEMPTS, ..._TIMEOUT_SECONDS; notifications/rules.after_attempt) until delivered or given up. The forge
shows the last state it received for a commit and context, so those are posted one at a time across all servers
(`_claim`), and a state overtaken by a later one on the same commit and context (the run ended, or a later run of
that kind on that commit began) before it was delivered is not posted any more (`superseded`): an old `pending`
never lands after `success`.

A project's statuses are posted one after another (in the order they were recorded), and different projects' at the
same time, on a small pool of threads: a forge that does not answer holds its own project's statuses for the
timeout, never another project's.

Which runs: kind push or pull_request with a commit, and their retries (a retry's state is its original's check's
newest: GitHub's re-run turns a red check green; an end that is to be retried automatically posts nothing, so the
check stays pending until its last attempt ends), of a project whose forge is known (issue_source, or the
repository's URL) and that has a token for it (issue_source's token/token_env, or the project's https token).

A pushed head that waits for its branch (push_wait, services/triggers/push.py) has no run yet: its states go through
the same outbox under a key made from the head and the check (`wait_key`, in run_id), `pending` while it waits (its
link: the run it waits for), `error` once a newer push replaced it before it ran. Once it has its run, that run's
states follow under the same check (later rows: the forge ends on the run's), and the head's own are written no
more."""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import httpx
from sqlalchemy import Engine, TextClause, bindparam, text
from sqlmodel import Session

from app.config import Settings
from app.core import ids
from app.infra.db import advisory_lock_id, read_only, session_scope
from app.infra.events import of_types
from app.infra.http import tls_context
from app.infra.secret_box import SecretBox, SecretUnreadable
from app.models import Project, as_utc, utcnow
from app.services.notifications.rules import AttemptVerdict, after_attempt, retry_after_seconds
from app.services.notifications.webhook_targets import GuardedTransport, RequestRefused, policy_of
from app.services.repositories import forge
from app.services.repositories.issue_sources import source_kind
from app.services.runs.filters import id_range
from app.services.runs.retry_rule import planned_retry
from app.services.scheduling.periodic import BURST_SETTLE_SECONDS, OnePerKey, PeriodicJob
from app.services.triggers.push import WAITING_EVENT
from app.services.triggers.rules import (
    ReportCounts,
    forge_answer,
    head_contexts,
    on_push_of,
    status_context,
    status_description,
    status_state,
)

log = logging.getLogger(__name__)
KINDS = ('push', 'pull_request')
LOOK_BACK = timedelta(days=2)  # runs older than this get no new statuses (a server down for days)
BATCH = 20
CLEAR_WAITS_EVERY = 3600.0  # seconds between two clearings of the ended waits (push_wait) older than LOOK_BACK
PROJECTS_AT_ONCE = 8  # projects whose statuses are being posted at the same time, by one server
GITLAB_STATES = {'pending': 'pending', 'success': 'success', 'failure': 'failed', 'error': 'canceled'}

# push and pull-request runs, and the retries of them (a person's or an automatic one) under their original's kind:
# the forge then shows the newest attempt's state under the same check
SQL_CANDIDATES = text(
    'WITH RECURSIVE attempt (id, kind) AS ('
    'SELECT id, kind FROM run WHERE kind IN (:k1, :k2) AND id >= :lowest '
    'UNION ALL SELECT r.id, a.kind FROM run r JOIN attempt a ON r.retry_of = a.id'
    ') '
    'SELECT r.id, r.project_id, r.commit_sha, r.status, a.kind, r.batch_id, r.depth_level, r.target_framework '
    'FROM attempt a JOIN run r ON r.id = a.id '
    # newest first, and not the runs whose final state is written: a busy day's runs never crowd out the latest
    'WHERE r.commit_sha IS NOT NULL AND NOT EXISTS (SELECT 1 FROM commit_status s WHERE s.run_id = r.id '
    "AND s.state <> 'pending') ORDER BY r.id DESC LIMIT 500"
)
# the heads waiting for their branch (or ended before they ran), without a run of their own yet
SQL_WAITS = text(
    'SELECT w.project_id, w.branch, w.sha, w.state, w.description, w.blocked_by FROM push_wait w '
    'WHERE w.updated_at >= :since AND NOT EXISTS (SELECT 1 FROM run r WHERE r.project_id = w.project_id '
    "AND r.branch_name = w.branch AND r.commit_sha = w.sha AND r.kind = 'push') ORDER BY w.created_at LIMIT 500"
)
SQL_WAITS_CLEARED = text("DELETE FROM push_wait WHERE state <> 'pending' AND updated_at < :since")
# a waiting head's state, unless a run's state is on that commit and check already (the head ran meanwhile, here or
# on another branch): the forge never goes back from a run's state to a wait's
SQL_INSERT_WAIT = text(
    'INSERT INTO commit_status (id, project_id, run_id, sha, state, context, description, target_path, status, '
    # (the parameters used twice are cast: PostgreSQL must read them as one type in both places)
    'attempts, next_attempt_at, created_at, updated_at) SELECT :id, :p, CAST(:r AS VARCHAR), CAST(:sha AS VARCHAR), '
    ":state, CAST(:context AS VARCHAR), :description, :target, 'pending', 0, :now, :now, :now WHERE NOT EXISTS "
    '(SELECT 1 FROM commit_status o WHERE o.sha = CAST(:sha AS VARCHAR) AND o.context = CAST(:context AS VARCHAR) '
    'AND o.run_id <> CAST(:r AS VARCHAR)) ON CONFLICT DO NOTHING'
)
SQL_STATES = text('SELECT run_id, state, context FROM commit_status WHERE run_id IN ({ids})')
SQL_RETRIED = text('SELECT retry_of FROM run WHERE retry_of IN :runs').bindparams(bindparam('runs', expanding=True))
SQL_TEST_COUNTS = text(
    'SELECT run_id, total, failed + errors, skipped FROM testreport WHERE run_id IN :runs'
).bindparams(bindparam('runs', expanding=True))
SQL_COVERAGE = text('SELECT run_id, percent FROM runcoverage WHERE run_id IN :runs').bindparams(
    bindparam('runs', expanding=True)
)
SQL_INSERT = text(
    'INSERT INTO commit_status (id, project_id, run_id, sha, state, context, description, status, attempts, '
    'next_attempt_at, created_at, updated_at) VALUES (:id, :p, :r, :sha, :state, :context, :description, '
    "'pending', 0, :now, :now, :now) ON CONFLICT DO NOTHING"
)
SQL_DUE = text(
    "SELECT id, attempts, project_id, sha, context FROM commit_status WHERE status IN ('pending', 'failed') "
    'AND next_attempt_at <= :now AND (claimed_until IS NULL OR claimed_until < :now) {not_busy} ORDER BY id LIMIT :n'
)
SQL_CLAIM = text(
    'UPDATE commit_status SET claimed_until = :until, updated_at = :now WHERE id = :id AND attempts = :attempts '
    "AND status IN ('pending', 'failed') AND (claimed_until IS NULL OR claimed_until < :now) "
    'AND NOT EXISTS (SELECT 1 FROM commit_status o WHERE o.sha = :sha AND o.context = :context AND o.id <> :id '
    'AND o.claimed_until >= :now)'
)
COMMIT_LOCK = text('SELECT pg_advisory_xact_lock(:k)')
SQL_ROW = text(
    'SELECT c.id, c.project_id, c.run_id, c.sha, c.state, c.context, c.description, c.target_path, c.attempts, '
    '(SELECT MAX(l.id) FROM commit_status l WHERE l.sha = c.sha AND l.context = c.context) AS latest '
    'FROM commit_status c WHERE c.id = :id'
)
SQL_SETTLE = text(
    'UPDATE commit_status SET status = :status, attempts = attempts + 1, next_attempt_at = :next, '
    'last_status_code = :code, last_error = :error, claimed_until = NULL, updated_at = :now, '
    'delivered_at = :delivered WHERE id = :id'
)
SQL_SUPERSEDE = text(
    "UPDATE commit_status SET status = 'superseded', claimed_until = NULL, updated_at = :now WHERE id = :id"
)
# a row another server holds is due when its claim runs out, not before (else this server would look every 50 ms)
SQL_NEXT_DUE = text(
    'SELECT MIN(CASE WHEN claimed_until > next_attempt_at THEN claimed_until ELSE next_attempt_at END) '
    "FROM commit_status WHERE status IN ('pending', 'failed') {not_busy}"
)


@dataclass(frozen=True)
class Due:
    """A status row due to be posted, as the pass read it."""

    id: str
    attempts: int
    sha: str
    context: str


@dataclass(frozen=True)
class StatusTarget:
    """Where a project's commit statuses go."""

    kind: str  # github | gitea | gitlab
    api_url: str
    owner: str
    repo: str
    token: str


@dataclass(frozen=True)
class StatusRequest:
    url: str
    headers: dict[str, str]
    json: dict[str, str]


def status_request(
    target: StatusTarget, *, sha: str, state: str, target_url: str, description: str, context: str
) -> StatusRequest:
    """Pure: the forge's documented "create a commit status" call.
    GitHub: POST /repos/{owner}/{repo}/statuses/{sha} {state, target_url, description, context} (Bearer token);
    Gitea/Forgejo: the same path and body under /api/v1 (`token` authorization);
    GitLab: POST /projects/{id}/statuses/{sha} {state, target_url, description, name} (PRIVATE-TOKEN), its own
    state words (failed, canceled)."""
    body = {'state': state, 'target_url': target_url, 'description': description[:140], 'context': context}
    if target.kind == 'github':
        return StatusRequest(
            f'{target.api_url}/repos/{target.owner}/{target.repo}/statuses/{sha}',
            {
                'Authorization': f'Bearer {target.token}',
                'Accept': 'application/vnd.github+json',
                'X-GitHub-Api-Version': '2022-11-28',
            },
            body,
        )
    if target.kind == 'gitlab':
        project = quote(f'{target.owner}/{target.repo}', safe='')
        gitlab_body = {**body, 'state': GITLAB_STATES[state], 'name': context}
        del gitlab_body['context']
        return StatusRequest(
            f'{target.api_url}/projects/{project}/statuses/{sha}', {'PRIVATE-TOKEN': target.token}, gitlab_body
        )
    return StatusRequest(
        f'{target.api_url}/repos/{target.owner}/{target.repo}/statuses/{sha}',
        {'Authorization': f'token {target.token}', 'Accept': 'application/json'},
        body,
    )


def wait_key(project_id: str, branch: str, sha: str, context: str) -> str:
    """Pure: the run_id of a waiting head's states on one check (no run exists yet): the same on every server, so
    (run_id, state) keeps one post of each."""
    digest = hashlib.sha256('\0'.join((project_id, branch, sha, context)).encode()).hexdigest()
    return f'wait_{digest[:40]}'


def target_of(project: Project, secrets: SecretBox) -> StatusTarget | None:
    """The project's forge for statuses, None when it has none (a local path, no token, an unknown host)."""
    source = dict(project.issue_source or {})
    if source.get('statuses') is False:
        return None
    kind = source_kind(source)
    if kind not in ('github', 'gitea', 'gitlab'):
        source = {k: v for k, v in source.items() if k in ('token', 'token_env')}
    host = urlsplit(project.repository).hostname or ''
    if kind == 'gitlab' or (kind not in ('github', 'gitea') and 'gitlab' in host.lower()):
        return _gitlab_target(project, source, secrets)
    try:
        config = forge.config_for(project.repository, source)
    except forge.ForgeUnavailable:
        return None
    token = config.token or _credential_token(project, secrets)
    if not token:
        return None
    return StatusTarget(config.kind, config.api_url, config.owner, config.repo, token)


def _gitlab_target(project: Project, source: dict[str, Any], secrets: SecretBox) -> StatusTarget | None:
    parts = urlsplit(project.repository)
    path = parts.path.strip('/').removesuffix('.git')
    owner, _, repo = path.rpartition('/')
    owner, repo = str(source.get('owner') or owner), str(source.get('repo') or repo)
    api_url = source.get('api_url') or (
        f'{parts.scheme or "https"}://{parts.hostname}/api/v4' if parts.hostname else ''
    )
    try:
        token = forge.config_for('', {**source, 'api_url': 'x', 'owner': 'x', 'repo': 'x'}).token
    except forge.ForgeUnavailable:  # a token_env it may not read
        token = None
    token = token or _credential_token(project, secrets)
    if not (owner and repo and api_url and token):
        return None
    return StatusTarget('gitlab', str(api_url).rstrip('/'), owner, repo, token)


def _credential_token(project: Project, secrets: SecretBox) -> str | None:
    if project.credentials_kind != 'token' or not project.credentials_secret:
        return None
    try:
        return secrets.decrypt(project.credentials_secret)
    except SecretUnreadable:
        return None


class CommitStatuses:
    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        secrets: SecretBox,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.engine, self.settings, self.secrets = engine, settings, secrets
        self.transport = transport
        self._targets: dict[str, tuple[float, StatusTarget | None]] = {}
        self._job: PeriodicJob | None = None
        self._waits_cleared = float('-inf')  # when the ended waits older than LOOK_BACK were last cleared
        self._posting = OnePerKey('commit-statuses', PROJECTS_AT_ONCE, after=self._wake)

    # -- the outbox
    def record_due(self) -> int:
        """One row for the current state of every recent push/pull-request run, and of every waiting head, that
        lacks it; returns the rows written. Every server may run it: (run_id, state) is unique. The waiting heads
        first: a head whose run was admitted meanwhile has that run's state written after its own."""
        return self._record_waits() + self._record_runs()

    def _record_waits(self) -> int:
        since = utcnow() - LOOK_BACK
        with read_only(self.engine).connect() as conn:
            waits = conn.execute(SQL_WAITS, {'since': since}).all()
        planned = [
            (wait_key(project_id, branch, sha, context), project_id, sha, state, context, description, target)
            for project_id, branch, sha, state, description, blocked_by in waits
            if self._target(project_id) is not None
            for target in [f'/runs/{blocked_by}' if blocked_by else f'/projects/{project_id}']
            for context in self._head_contexts(project_id)
        ]
        known: dict[str, set[str]] = {}
        with read_only(self.engine).connect() as conn:
            for start in range(0, len(planned), 100):
                chunk = [row[0] for row in planned[start : start + 100]]
                names = ', '.join(f':r{i}' for i in range(len(chunk)))
                params = {f'r{i}': key for i, key in enumerate(chunk)}
                for key, state, _ in conn.execute(text(SQL_STATES.text.format(ids=names)), params):
                    known.setdefault(key, set()).add(state)
        now = utcnow()
        rows = [
            {
                'id': ids.new_run_id(prefix='cst_'),
                'p': project_id,
                'r': key,
                'sha': sha,
                'state': state,
                'context': context,
                'description': description[:140],
                'target': target,
                'now': now,
            }
            for key, project_id, sha, state, context, description, target in planned
            # pending once, and never after the head's end (a later look at an ended head finds it known)
            if state not in known.get(key, set()) and not (state == 'pending' and known.get(key))
        ]
        clear = time.monotonic() - self._waits_cleared > CLEAR_WAITS_EVERY
        if rows or clear:
            with session_scope(self.engine) as session:
                if rows:
                    session.connection().execute(SQL_INSERT_WAIT, rows)
                if clear:
                    session.connection().execute(SQL_WAITS_CLEARED, {'since': since})
                    self._waits_cleared = time.monotonic()
        return len(rows)

    def _head_contexts(self, project_id: str) -> list[str]:
        with Session(read_only(self.engine)) as session:
            project = session.get(Project, project_id)
            return head_contexts(project_id, on_push_of(project.on_push) if project is not None else None)

    def _record_runs(self) -> int:
        lowest, _ = id_range((utcnow() - LOOK_BACK).isoformat(), None)
        with self.engine.connect() as conn:
            runs = conn.execute(SQL_CANDIDATES, {'k1': KINDS[0], 'k2': KINDS[1], 'lowest': lowest}).all()
            if not runs:
                return 0
            known: dict[str, set[str]] = {}
            contexts: dict[str, str] = {}  # a run keeps the context of its first state (one named before an upgrade)
            run_ids = [row[0] for row in runs]
            for start in range(0, len(run_ids), 100):
                chunk = run_ids[start : start + 100]
                names = ', '.join(f':r{i}' for i in range(len(chunk)))
                params = {f'r{i}': run_id for i, run_id in enumerate(chunk)}
                for run_id, state, context in conn.execute(text(SQL_STATES.text.format(ids=names)), params):
                    known.setdefault(run_id, set()).add(state)
                    contexts[run_id] = context
            due = [
                run_id
                for run_id, _, _, status, *_ in runs
                if (state := status_state(status)) not in (None, 'pending') and state not in known.get(run_id, set())
            ]
            chunks = [{'runs': due[start : start + 100]} for start in range(0, len(due), 100)]
            # an end that is retried, or is to be retried automatically, leaves the check to its retry (as a GitLab
            # job shows "retrying", not red, while its retry is to come): its retry's states follow under it
            # planned first: a retry made between the two reads is then found by the second (the other way round, it
            # was in neither, and the end that was to be retried posted its red state)
            planned = {run_id for run_id in due if planned_retry(conn, run_id) is not None}
            retried = {row[0] for chunk in chunks for row in conn.execute(SQL_RETRIED, chunk)}
            left_to_retry = planned | retried
            # a final state says what the run's tests and coverage were (its reports are kept before its end)
            tests = {row[0]: ReportCounts(*row[1:]) for chunk in chunks for row in conn.execute(SQL_TEST_COUNTS, chunk)}
            covered = {row[0]: row[1] for chunk in chunks for row in conn.execute(SQL_COVERAGE, chunk)}
        rows = []
        now = utcnow()
        for run_id, project_id, sha, status, kind, batch_id, depth, framework in runs:
            state = status_state(status)
            if state is None or state in known.get(run_id, set()):
                continue
            if state == 'pending' and known.get(run_id):
                continue  # a final state exists already
            if run_id in left_to_retry:
                continue
            target = self._target(project_id)
            if target is None:
                continue
            rows.append(
                {
                    'id': ids.new_run_id(prefix='cst_'),
                    'p': project_id,
                    'r': run_id,
                    'sha': sha,
                    'state': state,
                    'context': contexts.get(run_id)
                    or status_context(project_id, kind, (depth, framework) if batch_id else None),
                    'description': status_description(status, tests.get(run_id), covered.get(run_id))[:140],
                    'now': now,
                }
            )
        if rows:
            with session_scope(self.engine) as session:
                session.connection().execute(SQL_INSERT, rows)
        return len(rows)

    def _target(self, project_id: str) -> StatusTarget | None:
        cached = self._targets.get(project_id)
        if cached and time.monotonic() - cached[0] < 30:
            return cached[1]
        with Session(self.engine) as session:
            project = session.get(Project, project_id)
            target = target_of(project, self.secrets) if project is not None else None
        self._targets[project_id] = (time.monotonic(), target)
        return target

    def forget(self, project_id: str) -> None:
        self._targets.pop(project_id, None)

    # -- the sender
    def _not_busy(self, sql: TextClause) -> tuple[TextClause, dict[str, str]]:
        """`sql` without the rows of the projects being posted now (their thread takes them in turn)."""
        busy = sorted(self._posting.busy())
        names = ', '.join(f':busy{i}' for i in range(len(busy)))
        clause = f'AND project_id NOT IN ({names})' if busy else ''
        return text(sql.text.format(not_busy=clause)), {f'busy{i}': project for i, project in enumerate(busy)}

    def send_due(self) -> int:
        """Hand the due statuses of each project that is not being posted now to a thread of the pool (up to
        PROJECTS_AT_ONCE projects); returns how many projects were handed over."""
        sql, params = self._not_busy(SQL_DUE)
        with self.engine.connect() as conn:
            due = conn.execute(sql, {**params, 'now': utcnow(), 'n': BATCH}).all()
        by_project: dict[str, list[Due]] = {}
        for status_id, attempts, project_id, sha, context in due:
            by_project.setdefault(project_id, []).append(Due(status_id, attempts, sha, context))
        return sum(
            self._posting.submit(project_id, functools.partial(self._post_in_order, rows))
            for project_id, rows in by_project.items()
        )

    def _post_in_order(self, rows: list[Due]) -> bool:
        """On a thread of the pool: claim and post one project's due statuses, one after another. True: the
        job should look again (this project's later statuses, projects that waited for a free thread); after a
        failure the next tick does (a wake now would retry a lasting fault in a loop)."""
        for row in rows:
            if self._claim(row):
                self._post(row.id)
        return True

    def _wake(self) -> None:
        if self._job is not None:
            self._job.wake()

    def _claim(self, row: Due) -> bool:
        """Claim a status unless another server has it, or is posting another status on the same commit and
        context: the forge shows the last one it received, so two posts there at once could land out of order.
        On PostgreSQL the commit's advisory lock makes the check and the claim one step for every server."""
        now = utcnow()
        lease = timedelta(seconds=self.settings.notification_timeout_seconds * 2 + 30)
        with session_scope(self.engine) as session:
            conn = session.connection()
            if conn.dialect.name == 'postgresql':
                conn.execute(COMMIT_LOCK, {'k': advisory_lock_id(f'runboard-status:{row.sha}:{row.context}')})
            params = {'id': row.id, 'attempts': row.attempts, 'now': now, 'until': now + lease}
            return conn.execute(SQL_CLAIM, {**params, 'sha': row.sha, 'context': row.context}).rowcount == 1

    def _post(self, status_id: str) -> None:
        with self.engine.connect() as conn:
            row = conn.execute(SQL_ROW, {'id': status_id}).mappings().one()
        now = utcnow()
        if row['latest'] != row['id']:  # a later state of this commit and context is on its way to the forge
            with session_scope(self.engine) as session:
                session.connection().execute(SQL_SUPERSEDE, {'id': status_id, 'now': now})
            return
        target = self._target(row['project_id'])
        code: int | None = None
        error: str | None = None
        meaning: Literal['delivered', 'gave_up', 'failed'] | None = None  # a non-2xx answer's (rules.forge_answer)
        retry_after = None
        if target is None:
            error = 'the project has no forge token for commit statuses any more'
        else:
            request = status_request(
                target,
                sha=row['sha'],
                state=row['state'],
                target_url=self.settings.effective_public_url + (row['target_path'] or f'/runs/{row["run_id"]}'),
                description=row['description'],
                context=row['context'],
            )
            try:
                with httpx.Client(
                    timeout=self.settings.notification_timeout_seconds,
                    # where webhooks may go (RUNBOARD_WEBHOOK_ALLOWED_HOSTS), checked on the address connected to
                    transport=self.transport or GuardedTransport(policy_of(self.settings)),
                    headers={'User-Agent': 'runboard'},
                    verify=tls_context(),
                ) as client:
                    reply = client.post(request.url, json=request.json, headers=request.headers)
                code = reply.status_code
                retry_after = retry_after_seconds(reply.headers.get('retry-after'), now)
                if code >= 300:
                    meaning, error = forge_answer(str(request.json['state']), code, reply.text)
            except RequestRefused as exc:
                error = f'refused: {exc}'
            except httpx.HTTPError as exc:
                error = f'{type(exc).__name__}: could not reach {urlsplit(request.url).netloc}'
        if meaning == 'delivered' or meaning == 'gave_up':
            verdict = AttemptVerdict(meaning, None)
        else:
            verdict = after_attempt(
                status_code=code,
                attempt_in_round=row['attempts'] + 1,
                max_attempts=self.settings.notification_max_attempts,
                schedule=self.settings.notification_backoff_seconds,
                retry_after=retry_after,
            )
        with session_scope(self.engine) as session:
            session.connection().execute(
                SQL_SETTLE,
                {
                    'id': status_id,
                    'status': verdict.status,
                    'next': now + timedelta(seconds=verdict.retry_in) if verdict.retry_in is not None else None,
                    'code': code,
                    'error': error,
                    'now': utcnow(),
                    'delivered': utcnow() if verdict.status == 'delivered' else None,
                },
            )
        if verdict.status == 'gave_up':
            log.warning('commit status %s for run %s: gave up (%s)', status_id, row['run_id'], error)

    def seconds_until_due(self, cap: float) -> float:
        sql, params = self._not_busy(SQL_NEXT_DUE)
        with self.engine.connect() as conn:
            due = conn.execute(sql, params).scalar()
        if due is None:
            return cap
        return max(0.0, min(cap, (as_utc(due) - utcnow()).total_seconds()))

    def send_pending(self) -> timedelta:
        """One pass of the job: record what is due, send until nothing is; returns when the soonest retry is due."""
        self.record_due()
        while self.send_due():
            pass
        return timedelta(seconds=max(self.seconds_until_due(self.settings.notification_poll_seconds), 0.05))

    def job(self) -> PeriodicJob:
        """The job on every server: a pass when a run changes (it was admitted or ended), when a retry is due, and
        at least every poll interval."""
        poll = self.settings.notification_poll_seconds
        self._job = PeriodicJob(
            'commit-statuses',
            poll,
            self.send_pending,
            at_start=True,
            wakes_on=of_types('run', WAITING_EVENT),
            on_stop=self.stop,
            settle=BURST_SETTLE_SECONDS,
        )
        return self._job

    def stop(self) -> None:
        """Posts under way end by their timeout; their claims lapse by the lease for another server to take."""
        self._posting.shutdown()
