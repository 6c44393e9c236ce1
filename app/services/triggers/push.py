"""Admitting pushed heads and pull requests exactly once (issue 37; docs/triggers.md, "On push and pull requests").

Two ways see a push: a forge webhook (api/hooks.py -> `PushTrigger.deliver`) and a mirror fetch that finds a
branch at a new commit (`PushTrigger.scan`, a scheduler job on every server). Both end in `_admit_head`, which
admits through the one admission (`RunAdmitter.plan_trigger` + `admit_spec`, as POST /runs does, the run pinned
to that sha) under the head's key `push:<project>:<branch>:<sha>`, as the person who set the project's push rules
(`on_push_by`; the key's scope and the quota are theirs, like a schedule's owner). The database decides the
races: the key row is unique, so two servers, or a webhook and a fetch, seeing one push make one run; the others
replay it.

`push_head` records the last head the rules acted on per branch. It moves after an admission (or a refusal
that a retry cannot change: the branch's rules no longer match, the owner is gone), forward only (`_mark_seen`).
A refusal that time can change (the branch is busy with another run: pr_lock, concurrency, the quota) leaves it,
so the next fetch tries the push again. A branch moved twice between two looks runs its newest head only. A head
push_head holds (itself or in its history) is not admitted again: the key's row replays only for its TTL, and a
forge redelivers whenever asked (`rules.acted_on`).

Cancel in progress: before admitting a head, the branch's queued push runs of older commits, or of commits no
longer in the repository at all, end `cancelled` (`rules.cancel_verdict`; `finish_run ... only_if status =
'queued'`, so an engine that claimed one first wins and it runs on); with `cancel_running` the running ones are
asked to stop too.

A head that waits (refused for now: `HEAD_WAITS`) is kept in `push_wait`, so the forge shows it `pending` at once
(services/triggers/statuses.py posts it), as GitHub shows a queued check before its run starts. Once the rules act on
the branch again (`_settle`), its wait ends: gone when it has its run (whose own states follow), `error` when a newer
head replaced it before it ran (it never will: a branch pushed twice runs its newest head only)."""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text
from sqlmodel import Session, select

from app.config import Settings
from app.core.errors import DomainError
from app.infra.children import ChildStopped
from app.infra.db import session_scope
from app.infra.events import EventBus
from app.infra.secret_box import SecretBox, SecretUnreadable
from app.models import Project, RunKind, RunStatus, utcnow
from app.models.triggers import HookAccepted, OnPush
from app.models.vocabulary import TERMINAL_STATUSES
from app.services.execution.reaper import finish_run
from app.services.execution.stop import stop_run
from app.services.identity import audit
from app.services.identity.accounts import Principal, principal_of
from app.services.repositories import gitops
from app.services.repositories.access import RepositoryAccess, is_remote
from app.services.repositories.issue_sources import is_forge
from app.services.runs.admit import RunAdmitter
from app.services.runs.batches import BatchAdmitter
from app.services.scheduling.periodic import OnePerKey, PeriodicJob
from app.services.triggers import hooks, rules

if TYPE_CHECKING:
    pass


log = logging.getLogger(__name__)
SCANS_AT_ONCE = 4  # projects whose remotes one server fetches for push scans at the same time
EVER_FETCHED = float('inf')  # max_age: the mirror as it is, fetched if missing
# refusals time can change: the head stays unseen, so the next fetch tries it again ('overtaken': the branch did
# not hold this head when it was checked; a newer one is admitted under its own key, an older view looks again)
RETRY_LATER = ('pr_lock', 'concurrency_limit', 'rate_limited', 'idempotency_in_flight', 'overtaken', 'unavailable')
# a pull request's run refused for one of these waits for the next run's end ('overtaken': its head moved on, and the
# forge sends the newer head's event)
PULL_REQUEST_WAITS = tuple(code for code in RETRY_LATER if code != 'overtaken')
# a pushed head refused for one of these waits, shown pending on the forge until it runs or a newer head replaces it
# (not 'idempotency_in_flight': another request is admitting it right now; not 'unavailable': nothing is known)
HEAD_WAITS = ('pr_lock', 'concurrency_limit', 'rate_limited')
WAITING_EVENT = 'push.waiting'  # wakes the commit-status job (not passed on to browsers: api/events.py)
WAITING_PULL_REQUESTS_EVERY = 60.0  # seconds; a run's end wakes the job before that (the tick covers a lost event)
SQL_WAIT_KEEP = text(
    'INSERT INTO pull_request_wait (project_id, number, branch, sha, author, title, url, reason, created_at, '
    'updated_at) VALUES (:p, :n, :branch, :sha, :author, :title, :url, :reason, :now, :now) '
    'ON CONFLICT (project_id, number) DO UPDATE SET branch = excluded.branch, sha = excluded.sha, '
    'author = excluded.author, title = excluded.title, url = excluded.url, reason = excluded.reason, '
    'updated_at = excluded.updated_at'
)
SQL_WAIT_DROP = text('DELETE FROM pull_request_wait WHERE project_id = :p AND number = :n AND sha = :sha')
SQL_WAITING = text(
    'SELECT project_id, number, branch, sha, author, title, url FROM pull_request_wait ORDER BY updated_at LIMIT 100'
)
STILL_QUEUED_SQL = "status = 'queued'"
# a head is kept waiting once: a later look at it (the next fetch) changes nothing but the time it was last seen
SQL_HEAD_WAIT = text(
    'INSERT INTO push_wait (project_id, branch, sha, state, description, blocked_by, created_at, updated_at) '
    "VALUES (:p, :b, :sha, 'pending', :description, :blocked_by, :now, :now) ON CONFLICT (project_id, branch, sha) "
    "DO UPDATE SET updated_at = excluded.updated_at WHERE push_wait.state = 'pending'"
)
SQL_BRANCH_WAITS = text("SELECT sha FROM push_wait WHERE project_id = :p AND branch = :b AND state = 'pending'")
SQL_HEAD_WAIT_ENDED = text(
    "UPDATE push_wait SET state = 'error', description = :description, updated_at = :now "
    "WHERE project_id = :p AND branch = :b AND sha = :sha AND state = 'pending'"
)
SQL_WAITING_BRANCHES = text("SELECT DISTINCT branch FROM push_wait WHERE project_id = :p AND state = 'pending'")
SQL_BRANCH_WAITS_ENDED = text(
    "UPDATE push_wait SET state = 'error', description = :description, updated_at = :now "
    "WHERE project_id = :p AND branch = :b AND state = 'pending'"
)
SQL_HEAD_WAIT_RAN = text('DELETE FROM push_wait WHERE project_id = :p AND branch = :b AND sha = :sha')

SQL_SEEN = text('SELECT branch, sha FROM push_head WHERE project_id = :p')
SQL_SEEN_OF_BRANCH = text('SELECT sha FROM push_head WHERE project_id = :p AND branch = :b')
# compare and set: moved only from the head this server looked at (another server's newer mark is not overwritten)
SQL_SEEN_MOVE = text(
    'UPDATE push_head SET sha = :sha, updated_at = :now WHERE project_id = :p AND branch = :b AND sha = :was'
)
MARK_ATTEMPTS = 5  # push_head moved by others meanwhile: looked at again this many times
SQL_SEEN_INSERT = text(
    'INSERT INTO push_head (project_id, branch, sha, updated_at) VALUES (:p, :b, :sha, :now) ON CONFLICT DO NOTHING'
)
SQL_RUNS_OF_HEAD = text(
    'SELECT id FROM run WHERE project_id = :p AND branch_name = :b AND kind = :kind AND commit_sha = :sha ORDER BY id'
)
SQL_QUEUED_OF_BRANCH = text(
    'SELECT id, status, commit_sha FROM run WHERE project_id = :p AND branch_name = :b AND kind = :kind '
    "AND status IN ('queued', 'running') AND (commit_sha IS NULL OR commit_sha <> :sha) ORDER BY id"
)
SQL_TRIGGER_FACTS = text(
    'UPDATE run SET pusher = :pusher, pr_number = :n, pr_title = :title, pr_url = :url WHERE id = :id AND '
    'pusher IS NULL AND pr_number IS NULL'
)
SQL_BATCH_FACTS = text(
    'UPDATE run SET kind = :kind, pusher = :pusher, pr_number = :n, pr_title = :title, pr_url = :url '
    "WHERE batch_id = :batch AND kind = 'manual'"
)


class HookRefused(DomainError):
    """A delivery that is not the project's (no hook secret, a wrong signature): 401, nothing changed."""

    def __init__(self, detail: str) -> None:
        super().__init__(401, 'bad_signature', detail)


@dataclass
class Outcome:
    """What one pushed head or pull request came to."""

    outcome: str  # admitted | replayed | no_match | ignored | skipped ([skip ci]) | refused | waiting
    run_ids: list[str] = field(default_factory=list)
    detail: str | None = None
    code: str | None = None  # the refusal's machine code
    blocked_by: str | None = None  # the run a refusal names as holding the branch (or the repository) now


def refusal_outcome(refusal: DomainError) -> Outcome:
    """An admission's refusal as the push's outcome: an outage says only that."""
    if refusal.status >= 500:
        return Outcome('refused', detail=refusal.detail, code='unavailable')
    blocking = refusal.extra.get('blocking_runs') or [None]
    return Outcome('refused', detail=f'{refusal.error}: {refusal.detail}', code=refusal.error, blocked_by=blocking[0])


def rules_of(project: Project) -> OnPush | None:
    raw = getattr(project, 'on_push', None)
    found = rules.on_push_of(raw)
    if found is None and raw:
        log.warning('project %s has unreadable on_push rules: ignored', project.id)
    return found


class PushTrigger:
    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        admitter: RunAdmitter,
        repositories: RepositoryAccess,
        bus: EventBus,
        secrets: SecretBox,
        request_stop: Callable[[str], object] | None = None,
        on_issues_changed: Callable[[], object] | None = None,
    ) -> None:
        self.engine, self.settings, self.admitter = engine, settings, admitter
        self.repositories, self.bus, self.secrets = repositories, bus, secrets
        self.request_stop = request_stop  # the engine's: a running push run asked to stop (cancel_running)
        self.on_issues_changed = on_issues_changed  # the AFK loop's kick: sweep now
        self._scanning = OnePerKey('push-scan', SCANS_AT_ONCE)
        self._local_refs: dict[str, tuple] = {}  # project -> its refs' fingerprint when last given to a scan

    # ------------------------------------------------------------------ webhooks
    def deliver(self, project_id: str, headers: Mapping[str, str], body: bytes, *, correlation_id: str) -> HookAccepted:
        """One forge delivery to POST /api/hooks/{project_id}: verified with the project's hook secret (401 and
        nothing done otherwise), then the mirror is fetched and the push or pull request admitted at once."""
        # Every refusal before the signature holds is one 401 whatever the project id: an anonymous caller learns
        # no project ids (none, none with a hook secret). The headers are read before the project is looked up.
        delivery = hooks.delivery_of({k.lower(): v for k, v in headers.items()})
        if delivery is None:
            raise HookRefused(
                'No X-GitHub-Event, X-Gitea-Event or X-Gitlab-Event header: which forge sent this? A delivery is '
                "signed with the project's hook secret."
            )
        project = self._project(project_id)
        secret = self._hook_secret(project) if project is not None else None
        if project is None or secret is None or not hooks.signature_valid(delivery, body, secret):
            raise HookRefused(
                "The signature does not match the project's hook secret (a project without one, which an operator "
                'makes in its Settings, takes no deliveries).'
            )
        kind = hooks.kind_of(delivery)
        if kind == 'ping':
            return HookAccepted(forge=delivery.forge, event='ping', outcome='ignored', detail='pong')
        try:
            payload = json.loads(body or b'null')
        except ValueError as exc:
            raise DomainError(422, 'validation', 'The body is not JSON.') from exc
        event = hooks.parse(delivery, payload)
        rules_now = rules_of(project)
        if isinstance(event, hooks.Ignored):
            return HookAccepted(forge=delivery.forge, event=kind, outcome='ignored', detail=event.reason)
        if isinstance(event, hooks.IssueChanged):
            outcome, detail = self.issue_changed(project, event)
            return HookAccepted(forge=delivery.forge, event=kind, outcome=outcome, detail=detail)
        if rules_now is None or not rules_now.enabled:
            return HookAccepted(
                forge=delivery.forge, event=kind, outcome='no_match', detail='The project has no push rules.'
            )
        if isinstance(event, hooks.PullRequest):
            result = self.pull_request(project, rules_now, event, correlation_id=correlation_id)
        else:
            result = self.push(project, rules_now, event, correlation_id=correlation_id)
        return HookAccepted(
            forge=delivery.forge, event=kind, outcome=result.outcome, run_ids=result.run_ids, detail=result.detail
        )

    def issue_changed(self, project: Project, event: hooks.IssueChanged) -> tuple[str, str]:
        """An issue of the project's forge changed: every server reads the ready issues again at their next look
        (issues_changed_at, which their cached reads from before do not outlast), the cards redraw, and the AFK loop
        sweeps now, so an issue labelled ready-for-agent is taken up in seconds, not at the next sweep."""
        if not is_forge(project.issue_source):
            return 'ignored', "The project's issues are its own backlog, not the forge's."
        with session_scope(self.engine) as session:
            session.connection().execute(
                text('UPDATE project SET issues_changed_at = :now WHERE id = :id'), {'now': utcnow(), 'id': project.id}
            )
        self.bus.publish({'type': 'project', 'id': project.id, 'project_id': project.id, 'team_id': project.team_id})
        if self.on_issues_changed is not None:
            self.on_issues_changed()
        return 'refreshed', f'Issue #{event.number} {event.action}: the ready issues are read again.'

    def push(self, project: Project, on_push: OnPush, event: hooks.Push, *, correlation_id: str) -> Outcome:
        if not rules.branch_matches(on_push, event.branch):
            return Outcome('no_match', detail=f'Branch {event.branch} is not one the push rules select.')
        if not rules.paths_match(on_push, event.changed):
            return self._settle(
                project,
                event.branch,
                event.sha,
                Outcome('no_match', detail='The push changes no file the path rules select.'),
            )
        self._fetch(project)
        if skipped := self._skipped(project, event.sha):
            return self._settle(project, event.branch, event.sha, skipped)
        return self._admit_head(project, on_push, event.branch, event.sha, pusher=event.pusher, cid=correlation_id)

    def pull_request(self, project: Project, on_push: OnPush, pr: hooks.PullRequest, *, correlation_id: str) -> Outcome:
        if not on_push.pull_requests:
            return Outcome('no_match', detail='The push rules do not run pull requests (pull_requests: false).')
        if not pr.same_repository:
            return Outcome('ignored', detail="A fork's pull request: its head is not a branch of this repository.")
        self._fetch(project)
        if skipped := self._skipped(project, pr.sha):
            return skipped
        return self._admit_pull_request(project, on_push, pr, cid=correlation_id)

    def _admit_pull_request(self, project: Project, on_push: OnPush, pr: hooks.PullRequest, *, cid: str) -> Outcome:
        """The pull request's run, or, refused for now, the pull request kept to be admitted when a run ends (a
        push to its branch starts the push run first, which holds the branch: the forge sends no second event)."""
        outcome = self._admit(
            project,
            on_push,
            pr.branch,
            pr.sha,
            kind=RunKind.pull_request.value,
            key=rules.pull_request_key(project.id, pr.number, pr.sha),
            facts={'pusher': pr.author, 'n': pr.number, 'title': pr.title[:500], 'url': pr.url[:1000]},
            cid=cid,
        )
        params = {'p': project.id, 'n': pr.number, 'sha': pr.sha}
        with session_scope(self.engine) as session:
            if outcome.code in PULL_REQUEST_WAITS:
                wait = {'branch': pr.branch, 'author': pr.author, 'title': pr.title[:500], 'url': pr.url[:1000]}
                reason = (outcome.detail or outcome.code or '')[:500]
                session.connection().execute(SQL_WAIT_KEEP, {**params, **wait, 'reason': reason, 'now': utcnow()})
                detail = f'{outcome.detail} It runs when the branch is free: tried again as runs end.'
                return Outcome('waiting', detail=detail, code=outcome.code)
            session.connection().execute(SQL_WAIT_DROP, params)
        return outcome

    def admit_waiting_pull_requests(self) -> int:
        """The pull requests whose runs were refused for now, tried again (a run ended, on any server): admitted,
        or dropped when their head moved on or their project no longer runs pull requests. Returns how many were
        admitted. Two servers at once admit one run each: the pull request's key decides."""
        with self.engine.connect() as conn:
            waiting = conn.execute(SQL_WAITING).all()
        admitted = 0
        for project_id, number, branch, sha, author, title, url in waiting:
            project = self._project(project_id)
            on_push = rules_of(project) if project is not None else None
            if project is None or on_push is None or not on_push.enabled or not on_push.pull_requests:
                with session_scope(self.engine) as session:
                    session.connection().execute(SQL_WAIT_DROP, {'p': project_id, 'n': number, 'sha': sha})
                continue
            pr = hooks.PullRequest(number, title, url, branch, sha, 'synchronize', author, same_repository=True)
            try:
                outcome = self._admit_pull_request(project, on_push, pr, cid=f'pull-request-{project_id}-{number}')
            except Exception:  # one project's broken repository must not hold the others
                log.exception('waiting pull request %s of %s', number, project_id)
                continue
            if outcome.outcome in ('admitted', 'replayed'):
                admitted += 1
                log.info('pull request %s of %s: admitted after waiting (%s)', number, project_id, outcome.run_ids)
        return admitted

    def waiting_pull_requests_job(self) -> PeriodicJob:
        """On every server: waiting pull requests tried when any run ends (the bus), else every minute."""
        return PeriodicJob(
            'waiting-pull-requests',
            WAITING_PULL_REQUESTS_EVERY,
            self.admit_waiting_pull_requests,
            wakes_on=lambda event: event.get('type') == 'run' and event.get('status') in TERMINAL_STATUSES,
            settle=0.1,
        )

    # ------------------------------------------------------------------ mirror fetches
    def job(self, interval: float, jitter: float) -> PeriodicJob:
        """Every project with push rules fetched (joining the regular mirror fetch) and scanned, a few at a time
        and each on its own: a remote that does not answer holds its own scan until git's timeout, while the next
        passes scan the others."""
        return PeriodicJob(
            'push-scan',
            interval,
            lambda: sum(
                self._scanning.submit(project.id, functools.partial(self._scan_logged, project))
                for project in self._projects_with_rules()
            ),
            jitter=jitter,
            on_stop=self._scanning.shutdown,
        )

    def local_job(self, interval: float) -> PeriodicJob:
        """Projects on a path of this server: a commit there is scanned within `interval`, not at the next mirror
        fetch, as a forge's webhook would bring it. Their ref directories are looked at (`refs_fingerprint`), and a
        project is scanned only when they changed; the mirror fetch's job still scans every project, so a branch
        that was busy is tried again there."""
        return PeriodicJob('push-scan-local', interval, self.scan_changed_local)

    def scan_changed_local(self) -> int:
        """The path projects whose branches changed since this server last looked, each given to a scan; how many."""
        started = 0
        for project in self._projects_with_rules():
            if is_remote(project.repository):
                continue
            home = gitops.refs_home(project.repository)
            if home is None:
                continue
            fingerprint = gitops.refs_fingerprint(home)  # before the scan: a commit during it is seen next time
            if self._local_refs.get(project.id) == fingerprint:
                continue
            if self._scanning.submit(project.id, functools.partial(self._scan_logged, project)):
                self._local_refs[project.id] = fingerprint
                started += 1
        return started

    def scan_all(self) -> dict[str, list[Outcome]]:
        """Every project with push rules, scanned now, one after another (for a caller that waits for it)."""
        return {project.id: self._scan_logged(project) for project in self._projects_with_rules()}

    def _projects_with_rules(self) -> list[Project]:
        with Session(self.engine) as session:
            projects = [p for p in session.exec(select(Project)).all() if rules_of(p) is not None]
            for project in projects:
                session.expunge(project)
        return projects

    def _scan_logged(self, project: Project) -> list[Outcome]:
        try:
            return self.scan(project)
        except ChildStopped:  # the server is stopping: its pool says so once
            raise
        except Exception:  # a project's broken remote must not stop the others; the next scan tries again
            log.exception('push scan of project %s failed', project.id)
            return []

    def scan(self, project: Project, *, max_age: float | None = None) -> list[Outcome]:
        """Admit the heads a fetch moved that the rules select (a project's first scan takes what it finds as
        the baseline)."""
        on_push = rules_of(project)
        if on_push is None or not on_push.enabled:
            self._end_abandoned_waits(project, on_push, None)
            return []
        # what was acted on first, then the mirror: a head another server admitted meanwhile is then in both
        with self.engine.connect() as conn:
            seen = {branch: sha for branch, sha in conn.execute(SQL_SEEN, {'p': project.id}).all()}
        heads = self._heads(project, max_age=self.settings.mirror_fetch_seconds / 2 if max_age is None else max_age)
        self._end_abandoned_waits(project, on_push, heads)
        directory = self.repositories.git_dir(project)
        if not seen:  # every head in one transaction: a scan racing this one sees all of them or none
            self._mark_baseline(project.id, heads)
            return []
        moves = rules.moved_heads(on_push, heads, seen)
        if is_remote(project.repository) and any(
            m.before and not gitops.has_commit(directory, m.before) for m in moves
        ):
            # this mirror has not got what another server (a webhook, a newer fetch) already acted on: it is behind,
            # and its older heads are no pushes. Fetched now, its heads are the remote's.
            heads = self._heads(project, max_age=0)
            moves = rules.moved_heads(on_push, heads, seen)
        outcomes = []
        for moved in moves:
            if moved.before and _is_ancestor(directory, moved.sha, moved.before):
                continue  # a head behind the one acted on (that ran already): no push
            changed = _changed_files(directory, moved.before, moved.sha) if on_push.paths else None
            if not rules.paths_match(on_push, changed):
                no_match = Outcome('no_match', detail='no selected path changed')
                outcomes.append(self._settle(project, moved.branch, moved.sha, no_match))
                continue
            if skipped := self._skipped(project, moved.sha):
                outcomes.append(self._settle(project, moved.branch, moved.sha, skipped))
                continue
            outcomes.append(
                self._admit_head(project, on_push, moved.branch, moved.sha, pusher=None, cid=f'push-{project.id}')
            )
        return outcomes

    def _heads(self, project: Project, *, max_age: float) -> dict[str, str]:
        if is_remote(project.repository):
            self.repositories.refresh(project, max_age=max_age)
        else:
            self.repositories.branches.forget(project.repository)
        return gitops.read_heads(self.repositories.git_dir(project))

    def baseline(self, project_id: str) -> None:
        """Rules just set: the heads the branches hold now are where they start (unless they started already),
        so a push made right after runs even before the first scheduled scan. A remote that cannot be read now
        leaves it to that scan."""
        project = self._project(project_id)
        if project is None or rules_of(project) is None:
            return
        try:
            self.scan(project, max_age=EVER_FETCHED)
        except (DomainError, gitops.GitError, OSError) as exc:
            log.info('push rules of %s: no baseline yet (%s)', project_id, exc)

    def _skipped(self, project: Project, sha: str) -> Outcome | None:
        """`skipped` when the head commit's message asks for no run ([skip ci]; its message read from the mirror,
        whichever forge or scan saw it). A commit that cannot be read does not skip."""
        try:
            message = gitops.git('show', '-s', '--format=%B', sha, '--', cwd=self.repositories.git_dir(project))
        except gitops.GitError:
            return None
        marker = rules.skip_marker(message)
        if marker is None:
            return None
        log.info('push of %s at %s: the commit says %s, no run', project.id, sha[:10], marker)
        return Outcome('skipped', detail=f'The commit {sha[:10]} says {marker} in its message: no run.')

    # ------------------------------------------------------------------ admission
    def _admit_head(
        self, project: Project, on_push: OnPush, branch: str, sha: str, *, pusher: str | None, cid: str
    ) -> Outcome:
        if done := self._acted_on(project, branch, sha):
            return Outcome(done.outcome, list(done.run_ids), done.detail)
        outcome = self._admit(
            project,
            on_push,
            branch,
            sha,
            kind=RunKind.push.value,
            key=rules.push_key(project.id, branch, sha),
            facts={'pusher': pusher, 'n': None, 'title': None, 'url': None},
            cid=cid,
        )
        if outcome.code in HEAD_WAITS:
            self._keep_waiting(project, branch, sha, outcome)
        elif outcome.code not in RETRY_LATER:
            self._settle(project, branch, sha, outcome)
        return outcome

    def _keep_waiting(self, project: Project, branch: str, sha: str, outcome: Outcome) -> None:
        """The head waits for its branch (refused for now): kept in push_wait, so the forge shows it pending now; a
        head of the branch waiting before it that it replaces will never run, and ends."""
        description = rules.waiting_description(outcome.code, outcome.blocked_by)
        params = {'p': project.id, 'b': branch, 'sha': sha, 'now': utcnow()}
        with session_scope(self.engine) as session:
            session.connection().execute(
                SQL_HEAD_WAIT, {**params, 'description': description, 'blocked_by': outcome.blocked_by}
            )
        self._end_waits(project, branch, sha, ran=None, detail=None)
        self._waits_changed(project)

    def _settle(self, project: Project, branch: str, sha: str, outcome: Outcome) -> Outcome:
        """The rules acted on the head (admitted, or no run for good): push_head moved to it, and the waits it ends
        ended. Returns `outcome`."""
        self._mark_seen(project, branch, sha)
        if self._end_waits(
            project, branch, sha, ran=outcome.outcome in ('admitted', 'replayed'), detail=outcome.detail
        ):
            self._waits_changed(project)
        return outcome

    def _end_abandoned_waits(self, project: Project, on_push: OnPush | None, heads: dict[str, str] | None) -> None:
        """The waiting heads no scan will retry (rules.abandoned_waits) end `error`, saying why."""
        with self.engine.connect() as conn:
            branches = list(conn.execute(SQL_WAITING_BRANCHES, {'p': project.id}).scalars())
        abandoned = rules.abandoned_waits(on_push, heads, branches) if branches else {}
        if not abandoned:
            return
        with session_scope(self.engine) as session:
            for branch, why in abandoned.items():
                params = {'p': project.id, 'b': branch, 'description': rules.not_run_description(why), 'now': utcnow()}
                session.connection().execute(SQL_BRANCH_WAITS_ENDED, params)
        self._waits_changed(project)

    def _waits_changed(self, project: Project) -> None:
        self.bus.publish({'type': WAITING_EVENT, 'project_id': project.id, 'team_id': project.team_id})

    def _end_waits(self, project: Project, branch: str, head: str, *, ran: bool | None, detail: str | None) -> bool:
        """The branch's waiting heads that `head` settles: itself (gone once it ran, whose run's states follow on
        the forge; else it ended without a run; `ran` None: it waits on) and every older one it replaces (a newer
        push, so they never run). A waiting head newer than `head` (another server's, kept meanwhile) is left
        waiting. Returns whether any ended."""
        with self.engine.connect() as conn:
            waiting = list(conn.execute(SQL_BRANCH_WAITS, {'p': project.id, 'b': branch}).scalars())
        ended = False
        for sha in waiting:
            params = {'p': project.id, 'b': branch, 'sha': sha, 'now': utcnow()}
            if sha == head and ran is None:
                continue
            if sha == head and ran:
                statement = SQL_HEAD_WAIT_RAN
            elif sha == head:
                statement, params = SQL_HEAD_WAIT_ENDED, {**params, 'description': rules.not_run_description(detail)}
            elif self._replaces(project, branch, sha, head):
                statement, params = SQL_HEAD_WAIT_ENDED, {**params, 'description': rules.superseded_description(head)}
            else:
                continue
            with session_scope(self.engine) as session:
                session.connection().execute(statement, params)
            ended = True
        return ended

    def _acted_on(self, project: Project, branch: str, sha: str) -> rules.ActedOn | None:
        """The head, if the rules acted on it already (rules.acted_on), whatever its key's TTL says."""
        with self.engine.connect() as conn:
            seen = conn.execute(SQL_SEEN_OF_BRANCH, {'p': project.id, 'b': branch}).scalar()
            if seen is None:
                return None
            params = {'p': project.id, 'b': branch, 'kind': RunKind.push.value, 'sha': sha}
            run_ids = list(conn.execute(SQL_RUNS_OF_HEAD, params).scalars())
        holds = seen != sha and _is_ancestor(self.repositories.git_dir(project), sha, seen)
        return rules.acted_on(branch, sha, seen=seen, seen_holds_it=holds, run_ids=run_ids)

    def _admit(
        self,
        project: Project,
        on_push: OnPush,
        branch: str,
        sha: str,
        *,
        kind: str,
        key: str,
        facts: dict[str, Any],
        cid: str,
    ) -> Outcome:
        owner = self._owner(project)
        if owner is None:
            return Outcome('refused', code='owner_gone', detail='Nobody owns the push rules: set them again.')
        tip = self.repositories.branch_commit(project, branch)
        if tip != sha:
            # the branch moved on (or the fetch failed): its newest head runs, under its own key
            return Outcome('ignored', code='overtaken', detail=f'{branch} is at {str(tip)[:12]} now, not {sha[:12]}.')
        if on_push.cancel_in_progress:
            self._cancel_older(project, branch, sha, kind=kind, running=on_push.cancel_running)
        if on_push.matrix is not None:
            return self._admit_matrix(project, on_push, owner, branch, sha, kind=kind, key=key, facts=facts, cid=cid)
        depth, framework = rules.runs_for(
            on_push, depth_levels=project.depth_levels, target_frameworks=project.target_frameworks
        )[0]
        try:
            plan = self.admitter.plan_trigger(
                owner, project_id=project.id, depth_level=depth, target_framework=framework, branch=branch, kind=kind
            )
            # the run checks out the commit its key names (the one checked above), not the branch's head of a
            # moment later: a newer head runs under its own key (the payload is a trigger's, so a key replays)
            spec = dataclasses.replace(plan.spec, commit_sha=sha)
            admitted = self.admitter.admit_spec(owner, plan.project, spec, plan.payload, key, cid, plan.refusal)
        except DomainError as refusal:
            return refusal_outcome(refusal)
        if admitted.replayed:
            return Outcome('replayed', [admitted.run.id])
        self._record_facts(SQL_TRIGGER_FACTS, {'id': admitted.run.id, **facts})
        return Outcome('admitted', [admitted.run.id])

    def _admit_matrix(
        self,
        project: Project,
        on_push: OnPush,
        owner: Principal,
        branch: str,
        sha: str,
        *,
        kind: str,
        key: str,
        facts: dict[str, Any],
        cid: str,
    ) -> Outcome:
        """A matrix: one batch under the head's key (services/runs/batches.py, as POST /runs/batch admits it), every
        child pinned to the commit the key names, as a single push run is; its children then marked with the push's
        kind and facts."""
        assert on_push.matrix is not None
        try:
            batch, replayed = BatchAdmitter(self.admitter).trigger(
                owner,
                project_id=project.id,
                branch=branch,
                matrix=on_push.matrix.model_dump(),
                mode='best_effort',
                key=key,
                correlation_id=cid,
                commit_sha=sha,
            )
        except DomainError as refusal:
            return refusal_outcome(refusal)
        self._record_facts(SQL_BATCH_FACTS, {'batch': batch.id, 'kind': kind, **facts})
        runs = [child.run.id for child in batch.children if child.run is not None]
        refused = [child.problem for child in batch.children if child.problem is not None]
        if refused:
            first = refused[0]
            blocked_by = first.blocking_runs[0] if first.blocking_runs else None
            return Outcome('refused', runs, f'{first.error}: {first.detail}', code=first.error, blocked_by=blocked_by)
        return Outcome('replayed' if replayed else 'admitted', runs)

    def _record_facts(self, statement: Any, params: dict[str, Any]) -> None:
        """Who pushed, the pull request (and a matrix child's kind): written on the runs just admitted (the
        admission's row has no place for them)."""
        with session_scope(self.engine) as session:
            session.connection().execute(statement, params)

    def _cancel_older(self, project: Project, branch: str, sha: str, *, kind: str, running: bool) -> list[str]:
        """cancel-in-progress: the branch's queued runs of this kind that `sha` supersedes end `cancelled`; with
        `running`, its running ones are asked to stop (rules.cancel_verdict: a commit in `sha`'s history, one a
        forced push left behind, or one the repository no longer has at all). A run of a newer head (admitted
        meanwhile), or of a commit this mirror lacks while the remote does not answer, is left alone: the branch's
        PR lock then refuses `sha` for now, and push_head stays."""
        with self.engine.connect() as conn:
            rows = conn.execute(SQL_QUEUED_OF_BRANCH, {'p': project.id, 'b': branch, 'kind': kind, 'sha': sha}).all()
        directory = self.repositories.git_dir(project)
        found = self._found(project, directory, {commit for _, _, commit in rows if commit})
        cancelled = []
        for run_id, status, commit in rows:
            here = found.get(commit) if commit else None
            holds = bool(here) and _is_ancestor(directory, sha, commit)
            verdict = rules.cancel_verdict(commit=commit, found=here, holds_head=holds)
            if verdict is None:
                continue
            if verdict == 'gone':
                error = (
                    f'cancelled: superseded by a newer push to {branch} ({sha[:12]}); its commit {str(commit)[:12]} '
                    f'is no longer on {branch} (not found in the repository: a forced push took it away)'
                )
                message = f'cancelled: commit {str(commit)[:12]} is no longer on {branch}, superseded by {sha[:12]}'
            else:
                error = f'cancelled: a newer push to {branch} ({sha[:12]}) replaces it'
                message = f'cancelled by a newer push to {branch} ({sha[:12]})'
            if status == RunStatus.queued.value:
                done = finish_run(
                    self.engine,
                    run_id=run_id,
                    status=RunStatus.cancelled,
                    error=error,
                    message=message,
                    only_if=STILL_QUEUED_SQL,
                )
                if done is not None:
                    cancelled.append(run_id)
                    self.bus.publish(
                        {
                            'type': 'run',
                            'id': run_id,
                            'project_id': project.id,
                            'team_id': project.team_id,
                            'status': RunStatus.cancelled.value,
                        }
                    )
            elif running and self.request_stop is not None:
                owner = self._owner(project)
                if owner is not None:
                    try:
                        stop_run(self.engine, self.bus, owner, run_id)
                        self.request_stop(run_id)
                    except DomainError:  # it ended meanwhile
                        pass
        return cancelled

    def _found(self, project: Project, directory: str, commits: set[str]) -> dict[str, bool | None]:
        """Whether the repository has each commit (None: not known). One this mirror lacks is another server's
        newer head (this mirror is behind) or one a forced push took away, which no fetch brings: a remote's
        mirror is fetched for it, twice at most, since a fetch joined while under way may have begun before those
        runs were read; one still missing then is on no branch of the remote. A local path is read in place."""
        found: dict[str, bool | None] = {commit: gitops.has_commit(directory, commit) for commit in commits}
        if all(found.values()) or not is_remote(project.repository):
            return found
        for _ in range(2):
            try:
                self._fetch(project)
            except (DomainError, gitops.GitError, OSError) as exc:
                log.info('push runs of %s: the commits its mirror lacks are not known (%s)', project.id, exc)
                return {commit: here or None for commit, here in found.items()}
            found = {commit: here or gitops.has_commit(directory, commit) for commit, here in found.items()}
            if all(found.values()):
                break
        return found

    # ------------------------------------------------------------------ the project's side
    def _fetch(self, project: Project) -> None:
        """The repository as the push left it: a remote's mirror fetched now; a local path's cached branches
        forgotten."""
        if is_remote(project.repository):
            self.repositories.refresh(project, max_age=0)
        else:
            self.repositories.branches.forget(project.repository)

    def _mark_baseline(self, project_id: str, heads: dict[str, str]) -> None:
        if heads:
            now = utcnow()
            with session_scope(self.engine) as session:
                rows = [{'p': project_id, 'b': branch, 'sha': sha, 'now': now} for branch, sha in heads.items()]
                session.connection().execute(SQL_SEEN_INSERT, rows)

    def _mark_seen(self, project: Project, branch: str, sha: str) -> bool:
        """push_head of the branch moved to `sha`, forward only: never to a commit the stored head already holds
        (a redelivered old webhook, a slow admission's mark after a newer one), and over a head that is not in
        `sha`'s history (a forced push) only while `sha` is the branch's head. Moved with compare and set, so two
        servers' marks cannot undo each other. Returns whether it moved."""
        for _ in range(MARK_ATTEMPTS):
            params = {'p': project.id, 'b': branch, 'sha': sha, 'now': utcnow()}
            with self.engine.connect() as conn:
                stored = conn.execute(SQL_SEEN_OF_BRANCH, params).scalar()
            if stored == sha or (stored is not None and not self._replaces(project, branch, stored, sha)):
                return False
            with session_scope(self.engine) as session:
                conn = session.connection()
                statement = SQL_SEEN_INSERT if stored is None else SQL_SEEN_MOVE
                if conn.execute(statement, {**params, 'was': stored}).rowcount == 1:
                    return True
            # another server marked the branch meanwhile: compared again with its head
        log.info('push_head of %s %s: not moved to %s (marked by others meanwhile)', project.id, branch, sha[:12])
        return False

    def _replaces(self, project: Project, branch: str, stored: str, sha: str) -> bool:
        """`sha` is a newer head than `stored`. A mirror that lacks either is fetched first: the remote has both
        unless one was pushed away, and a head whose object is gone is no newer (a mark then waits, it is never
        undone). Not known (the remote does not answer): False, push_head stays, a later look marks it."""
        try:
            directory = self.repositories.git_dir(project)
            fetched = False
            if not (gitops.has_commit(directory, stored) and gitops.has_commit(directory, sha)):
                self._fetch(project)
                fetched = True
            if _is_ancestor(directory, sha, stored):
                return False  # the stored head holds it already: older (or the same)
            if _is_ancestor(directory, stored, sha):
                return True
            # neither holds the other (a forced push, or the stored head is gone): the branch's head now wins
            if not fetched:
                self._fetch(project)
            return self.repositories.branch_commit(project, branch) == sha
        except (DomainError, gitops.GitError, OSError) as exc:
            log.info('push_head of %s %s: not moved to %s (%s)', project.id, branch, sha[:12], exc)
            return False

    def _project(self, project_id: str) -> Project | None:
        with Session(self.engine) as session:
            project = session.get(Project, project_id)
            if project is not None:
                session.expunge(project)
            return project

    def _hook_secret(self, project: Project) -> str | None:
        token = getattr(project, 'hook_secret', None)
        if not token:
            return None
        try:
            return self.secrets.decrypt(token)
        except SecretUnreadable:
            log.warning("project %s's hook secret cannot be decrypted with this server's key", project.id)
            return None

    def _owner(self, project: Project) -> Principal | None:
        user_id = getattr(project, 'on_push_by', None)
        if not user_id:
            return None
        with Session(self.engine) as session:
            return principal_of(session, user_id)


def _is_ancestor(directory: str, sha: str, of: str) -> bool:
    """`sha` is `of` or in its history (False when either is unknown here)."""
    try:
        gitops.git('merge-base', '--is-ancestor', sha, of, cwd=directory, timeout=30)
    except gitops.GitError:
        return False
    return True


def _changed_files(directory: str, before: str | None, after: str) -> list[str] | None:
    """The files between the head the rules last acted on and the new one; None when not known (a new branch,
    a forced push whose old head is gone)."""
    if not before:
        return None
    try:
        out = gitops.git('diff', '--name-only', '--no-renames', before, after, '--', cwd=directory, timeout=30)
    except gitops.GitError:
        return None
    return [line for line in out.splitlines() if line]


def new_hook_secret() -> str:

    return 'rbh_' + secrets.token_urlsafe(32)


def set_hook_secret(engine: Engine, secrets_box: SecretBox, principal: Principal, project_id: str) -> str:
    """A new hook secret for the project (the old one stops working at once); the value is answered this once."""
    secret = new_hook_secret()
    with session_scope(engine) as session:
        project = session.get(Project, project_id)
        if project is None or project.team_id not in principal.team_ids:
            raise DomainError(404, 'not_found', f'No project {project_id!r}.')
        if not principal.is_operator:
            raise DomainError(403, 'forbidden', "Only operators can change a project's hook secret.")
        project.hook_secret = secrets_box.encrypt(secret)
        project.updated_at = utcnow()
        session.add(project)
        audit.record(
            session,
            principal,
            'project.hook_secret_rotated',
            team_id=project.team_id,
            project_id=project_id,
            target=project_id,
        )
    return secret
