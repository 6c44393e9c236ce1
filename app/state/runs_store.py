"""The runs list of one tab: rows, optimistic `Submitting…` rows and their prior_state snapshot.

Pure: no I/O, no NiceGUI. The page feeds it server facts (a fetched page of runs, live run updates) and the
submit flow drives the optimistic lifecycle: begin_optimistic -> confirm | rollback.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from app.models.vocabulary import AWAITING_APPROVAL, awaits_approval

SUBMITTING = 'submitting'
ACTIVE = ('queued', 'running', 'stopping')
_tokens = itertools.count(1)


def filter_choices(options: dict[str, str], value: str | None) -> dict[str, str]:
    """Pure: a filter's choices, with a value from the address that is none of them (a deleted project, a mistyped
    status in a bookmark) kept and said to be unknown: the list then shows that nothing matches it, and Clear filters
    is there, instead of the page failing to draw."""
    if not value or value in options:
        return options
    return {**options, value: f'{value} (unknown)'}


SEARCHED_TEXT = ('id', 'branch_name', 'issue_title', 'pr_title', 'commit_title')


def text_matches(run: dict[str, Any], q: str) -> bool:
    """The runs search as the server answers it (services/runs/filters.search_condition), for a live update: a
    case-insensitive substring of the id, the branch, the issue, pull request or commit title, or the start of the
    commit's sha."""
    needle = q.strip().lower()
    return any(needle in str(run.get(name) or '').lower() for name in SEARCHED_TEXT) or str(
        run.get('commit_sha') or ''
    ).lower().startswith(needle)


@dataclass(frozen=True)
class RunFilters:
    project: str | None = None
    status: str | None = None
    kind: str | None = None
    branch: str | None = None  # exact branch name (URL: on=)
    user: str | None = None  # a person's name or id (URL: by=)
    since: str | None = None  # created on or after this day (YYYY-MM-DD, UTC)
    until: str | None = None  # created on or before this day
    q: str | None = None  # text in the run id, branch, titles or the start of its commit (text_matches)

    @classmethod
    def from_query(cls, query: Mapping[str, str], *, project: str | None = None) -> RunFilters:
        """The filters a page's URL query encodes (the inverse of query()); `project` pins the project page's."""

        def value(name: str) -> str | None:
            return (query.get(name) or '').strip() or None

        return cls(
            project=project or value('project'),
            status=value('status'),
            kind=value('kind'),
            branch=value('on'),
            user=value('by'),
            since=value('since'),
            until=value('until'),
            q=value('q'),
        )

    @property
    def narrowed(self) -> bool:
        return any((self.status, self.kind, self.branch, self.user, self.since, self.until, self.q))

    def matches(self, run: dict[str, Any]) -> bool:
        if not self._in_range(str(run.get('created_at') or '')):
            return False
        if self.q and not text_matches(run, self.q):
            return False
        if self.project and run.get('project_id') != self.project:
            return False
        if self.status == AWAITING_APPROVAL:
            if not awaits_approval(run):
                return False
        elif self.status and run.get('status') != self.status:
            return False
        if self.branch and run.get('branch_name') != self.branch:
            return False
        if self.user and self.user not in (run.get('user_name'), run.get('user_id')):
            return False
        return not (self.kind and run.get('kind') != self.kind)

    def query(self) -> dict[str, str]:
        """The URL query that encodes these filters (empty values left out)."""
        pairs = (
            ('project', self.project),
            ('status', self.status),
            ('kind', self.kind),
            ('on', self.branch),
            ('by', self.user),
            ('since', self.since),
            ('until', self.until),
            ('q', self.q),
        )
        return {k: v for k, v in pairs if v}

    def _in_range(self, created_at: str) -> bool:
        """ISO times compare as text; a day bound compares with the time's first 10 characters."""
        if not created_at:
            return True
        if self.since and created_at[: len(self.since)] < self.since:
            return False
        return not (self.until and created_at[: len(self.until)] > self.until)

    def api_params(self) -> dict[str, str | None]:
        """The same filters as GET /runs parameters."""
        return {
            'project': self.project,
            'status': self.status,
            'kind': self.kind,
            'branch': self.branch,
            'user': self.user,
            'since': self.since,
            'until': self.until,
            'q': self.q,
        }


def branch_runs_href(project_id: str, branch: str) -> str:
    """Pure: where a run's branch links: its project's page filtered to the branch (`?on=`), which shows the branch's
    history chart above its runs, as GitHub's branch filter of a workflow's runs."""
    return f'/projects/{quote(project_id, safe="")}?{urlencode(RunFilters(branch=branch).query())}'


@dataclass
class _Pending:
    token: str
    prior_state: list[dict[str, Any]]
    arrived: list[dict[str, Any]] = field(default_factory=list)  # live updates seen while it was in flight


class RunsStore:
    """Newest first, at most `limit` rows. Rows are run dicts as the API returns them; an optimistic row has
    status `submitting` and an `optimistic` token instead of a server id."""

    def __init__(self, *, filters: RunFilters | None = None, limit: int = 20) -> None:
        self.filters = filters or RunFilters()
        self.limit = limit
        self.page_size = limit
        self.rows: list[dict[str, Any]] = []
        self.has_more = False  # the server has older rows for these filters (from the last page read)
        self._pending: dict[str, _Pending] = {}

    # -- server facts
    def load(self, runs: list[dict[str, Any]], *, has_more: bool = False, read_for: RunFilters | None = None) -> bool:
        """A fresh page from GET /runs; optimistic rows still in flight stay on top. A page `read_for` other filters
        than the list has now is left out (False): the filters changed while it was read, and the read for the new
        ones is on its way. Applied, it would show the old filters' rows, or none (they no longer match)."""
        if read_for is not None and read_for != self.filters:
            return False
        optimistic = [r for r in self.rows if r.get('optimistic')]
        self.rows = optimistic + [copy.deepcopy(r) for r in runs if self.filters.matches(r)][: self.limit]
        self.has_more = has_more
        return True

    @property
    def older_cursor(self) -> str | None:
        """Where the next older page starts: the oldest run shown (keyset on the id, which sorts by
        creation), so rows that live updates pushed out of the list are read again, never skipped."""
        real = [r['id'] for r in self.rows if not r.get('optimistic') and r.get('id')]
        return real[-1] if real and self.has_more else None

    def append_older(self, runs: list[dict[str, Any]], *, has_more: bool, read_for: RunFilters | None = None) -> bool:
        """An older page below the list; the list keeps that many more rows from now on. Left out (False) when it was
        `read_for` other filters than the list has now, as load's page is."""
        if read_for is not None and read_for != self.filters:
            return False
        known = {r.get('id') for r in self.rows}
        older = [copy.deepcopy(r) for r in runs if r.get('id') not in known and self.filters.matches(r)]
        self.limit = len([r for r in self.rows if not r.get('optimistic')]) + len(older)
        self.rows += older
        self.has_more = has_more
        return True

    def apply_event(self, run: dict[str, Any]) -> None:
        """A live update: the run as the server now has it. Upserts (or drops it when it no longer matches the
        filters), and remembers it for every submit in flight so a rollback re-applies it."""
        for pending in self._pending.values():
            pending.arrived.append(copy.deepcopy(run))
        self._upsert(run)
        self._link_retry(run)
        self._link_issue(run)

    def _link_retry(self, run: dict[str, Any]) -> None:
        """A new retry shows on the row of the run it retries ("retried by"), without a read of that run."""
        original = next((r for r in self.rows if run.get('retry_of') and r.get('id') == run['retry_of']), None)
        if original is not None and run['id'] not in (original.get('retried_by') or []):
            original['retried_by'] = sorted([*(original.get('retried_by') or []), run['id']])

    def _link_issue(self, run: dict[str, Any]) -> None:
        """A new AFK run on an issue shows on the rows of the older AFK runs on it ("taken up again by"), as the server
        says it (issue_taken_up_by), without a read of those runs."""
        if run.get('kind') != 'auto' or run.get('issue_number') is None:
            return
        for row in self.rows:
            if (
                row.get('kind') == 'auto'
                and row.get('project_id') == run.get('project_id')
                and row.get('issue_number') == run['issue_number']
                and (row.get('id') or '') < run['id']
                and (row.get('issue_taken_up_by') or '') < run['id']
            ):
                row['issue_taken_up_by'] = run['id']

    def _upsert(self, run: dict[str, Any]) -> None:
        index = next((i for i, r in enumerate(self.rows) if r.get('id') == run.get('id')), None)
        if not self.filters.matches(run):
            if index is not None:
                del self.rows[index]
            return
        if index is not None:
            self.rows[index] = copy.deepcopy(run)
            return
        cursor = self.older_cursor
        if cursor is not None and (run.get('id') or '') < cursor:
            return  # it belongs to an older page, not loaded yet: "Load older runs" shows it in its place
        optimistic = [r for r in self.rows if r.get('optimistic')]
        real = [r for r in self.rows if not r.get('optimistic')] + [copy.deepcopy(run)]
        if self.limit > self.page_size:  # the person loaded older pages: keep them, grow
            self.limit += 1
        real.sort(key=lambda r: r.get('id') or '', reverse=True)  # run ids sort by creation
        if len(real) > self.limit:
            self.has_more = True  # the oldest row went off the bottom: "load older" brings it back
        self.rows = optimistic + real[: self.limit]

    # -- the optimistic lifecycle
    def begin_optimistic(self, params: dict[str, Any]) -> str:
        """Snapshot the list into prior_state and put a `Submitting…` row on top; returns its token."""
        token = f'opt-{next(_tokens)}'
        self._pending[token] = _Pending(token, copy.deepcopy(self.rows))
        row = {
            'id': None,
            'optimistic': token,
            'status': SUBMITTING,
            'kind': params.get('kind', 'manual'),
            'project_id': params.get('project_id'),
            'branch_name': params.get('branch'),
            'depth_level': params.get('depth_level'),
            'target_framework': params.get('target_framework'),
            'user_name': params.get('user_name'),
            'created_at': None,
            'started_at': None,
            'finished_at': None,
        }
        self.rows.insert(0, row)
        return token

    def prior_state(self, token: str) -> list[dict[str, Any]] | None:
        pending = self._pending.get(token)
        return copy.deepcopy(pending.prior_state) if pending else None

    def confirm(self, token: str, run: dict[str, Any]) -> None:
        """The server created (201) or replayed (200) the run: the optimistic row becomes that run, once."""
        self._pending.pop(token, None)
        self.rows = [r for r in self.rows if r.get('optimistic') != token]
        self._upsert(run)

    def rollback(self, token: str) -> None:
        """The submit failed: the list as it was before, plus the live updates that arrived meanwhile."""
        pending = self._pending.pop(token, None)
        if pending is None:
            return
        others = [r for r in self.rows if r.get('optimistic') and r.get('optimistic') != token]
        self.rows = others + [r for r in pending.prior_state if not r.get('optimistic')]
        for run in pending.arrived:
            self._upsert(run)

    @property
    def in_flight(self) -> bool:
        return bool(self._pending)
