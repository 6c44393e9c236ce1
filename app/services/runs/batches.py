"""Matrix (batch) triggers: one request makes one run per combination of depth level and target framework on
one branch, as a batch with its own id (docs/triggers.md, "Matrix triggers").

How the database decides the races: the first request inserts the batch row, whose (user, key) is unique; a
second one with the same key (in a row, at once, or on another server) fails that insert and carries on with
the same row, so every child carries one batch id. Each child has a key derived from the batch key and goes
through the single trigger's admission (idempotency, quota, concurrency, PR lock): the child's key row
decides which request makes it, and uq_run_batch_cell allows one run per cell whatever the keys say. A resend
therefore replays the children already admitted and tries only the missing ones.

Siblings: a batch's children share their branch without locking each other out (admission.repository_verdict);
each still takes a concurrency slot, and any other trigger on the branch meets the PR lock.

Modes: best_effort (the default) admits each child in its own transaction and answers per child; all_or_nothing
admits every missing child in ONE transaction under the repository lock (quota entries taken as it goes): if any
child is refused, the transaction rolls back and the quota is given back, so no run of that pass exists."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import DataError

from app.core.errors import DomainError
from app.models import Batch, BatchPublic, Project, RunKind, utcnow
from app.services.identity.accounts import Principal
from app.services.runs import admission, batch_rules, batch_store
from app.services.runs.admission import Conflict, StaleProject
from app.services.runs.admit import Admitted, RunAdmitter, check_own_variables, validate_request, with_approval
from app.services.runs.batch_rules import Cell
from app.services.runs.writer import CREATE_ATTEMPTS, Request, RunSpec, bad_data, lost_race, repository_changed

Outcome = Admitted | DomainError
Child = tuple[RunSpec, dict[str, Any]]  # the run spec and the payload its key's fingerprint is taken of


class _Withheld(Exception):
    """An all-or-nothing pass met a refusal: roll back every child of it."""


class BatchAdmitter:
    def __init__(self, admitter: RunAdmitter) -> None:
        self.admitter = admitter
        self.engine = admitter.engine

    def trigger(
        self,
        principal: Principal,
        *,
        project_id: str,
        branch: str,
        matrix: dict[str, list[str]],
        mode: str,
        key: str | None,
        correlation_id: str | None,
        variables: dict[str, str] | None = None,
        commit_sha: str | None = None,
    ) -> tuple[BatchPublic, bool]:
        """(the batch after this pass, replayed: the key named a batch already). variables: every child's own.
        commit_sha: the commit every child runs (a push's: the one its key names); None: the branch's head now."""
        key = key or str(uuid.uuid4())
        variables = dict(sorted((variables or {}).items()))
        if variables and (refused := admission.validate_variables(variables)):
            raise DomainError.from_refusal(refused)
        project = self.admitter.projects.get(project_id, principal)
        if variables:
            check_own_variables(project, principal, branch)
        allowed = {'depth_level': project.depth_levels, 'target_framework': project.target_frameworks}
        refusal = batch_rules.matrix_refusal(matrix, allowed=allowed)
        if refusal:
            raise DomainError.from_refusal(refusal)
        first = matrix['depth_level'][0], matrix['target_framework'][0]
        commit = validate_request(
            self.admitter.repositories,
            project,
            depth_level=first[0],
            target_framework=first[1],
            branch=branch,
            pinned=commit_sha,
        )
        fp = batch_rules.batch_fingerprint(
            project_id=project_id, branch=branch, matrix=matrix, mode=mode, variables=variables
        )
        # every child runs the commit of the first send
        params: dict[str, Any] = {'branch': branch, **matrix, 'commit_sha': commit}
        if variables:
            params['variables'] = variables
        batch, created = batch_store.claim(
            self.engine, principal, project_id=project_id, key=key, fingerprint=fp, mode=mode, params=params
        )
        before = batch_store.children(self.engine, batch.id)
        missing = {
            cell: self._child(batch, project, cell)
            for cell in batch_rules.cells(batch.params['depth_level'], batch.params['target_framework'])
            if cell not in before
        }
        if batch.mode == 'all_or_nothing':
            outcomes = self._all_or_nothing(principal, project, batch, missing, correlation_id)
        else:
            outcomes = self._best_effort(principal, project, batch, missing, correlation_id)
        return self._record(batch, principal, before, outcomes), not created

    def get(self, principal: Principal, batch_id: str) -> BatchPublic:
        batch, user_name = batch_store.load_visible(self.engine, principal, batch_id)
        answer = batch_store.answer(batch, batch_store.children(self.engine, batch.id), user_name=user_name)
        answer.commit_title = batch_store.commit_title(self.engine, answer.commit_sha)
        return answer

    # -- the children
    @staticmethod
    def _child(batch: Batch, project: Project, cell: Cell) -> Child:
        branch = batch.params['branch']
        variables: dict[str, str] = batch.params.get('variables') or {}
        spec = RunSpec(
            project.id,
            cell[0],
            cell[1],
            branch,
            kind=RunKind.manual.value,
            commit_sha=batch.params.get('commit_sha'),
            batch_id=batch.id,
            variables=tuple(variables.items()),
        )
        payload = {
            'project_id': project.id,
            'depth_level': cell[0],
            'target_framework': cell[1],
            'branch': branch,
            'batch_id': batch.id,
            **({'variables': variables} if variables else {}),
        }
        return spec, payload

    def _best_effort(
        self, principal: Principal, project: Project, batch: Batch, missing: dict[Cell, Child], cid: str | None
    ) -> dict[Cell, Outcome]:
        """Each child through the single trigger's admission, one after the other."""
        outcomes: dict[Cell, Outcome] = {}
        for cell, (spec, payload) in missing.items():
            key = batch_rules.child_key(batch.key, cell)
            try:
                outcomes[cell] = self.admitter.admit_spec(principal, project, spec, payload, key, cid)
            except DomainError as exc:
                if exc.status >= 500:  # an outage is no refusal: stop here; a resend completes the batch
                    raise
                outcomes[cell] = exc
        return outcomes

    def _all_or_nothing(
        self, principal: Principal, project: Project, batch: Batch, missing: dict[Cell, Child], cid: str | None
    ) -> dict[Cell, Outcome]:
        """Every missing child in one transaction: all commit, or (one refused) none does."""
        admitter = self.admitter
        for _ in range(CREATE_ATTEMPTS):
            taken: list[str] = []
            outcomes: dict[Cell, Outcome] = {}
            try:
                with admitter.writer.transaction() as conn:
                    admitter.writer.lock_repository(conn, project.repository_key)
                    for cell, (spec, payload) in missing.items():
                        key, fp = batch_rules.child_key(batch.key, cell), admission.fingerprint(payload)
                        try:
                            request = Request(principal, project, with_approval(spec, project, principal), key, fp, cid)
                            outcomes[cell] = admitter.admit_in(conn, request, taken)
                        except DomainError as exc:
                            if exc.status >= 500:
                                raise
                            outcomes[cell] = exc  # the next children are still checked, for the answer
                    if any(isinstance(outcome, DomainError) for outcome in outcomes.values()):
                        raise _Withheld()
            except _Withheld:
                admitter.give_back(principal, taken)
                return outcomes
            except Conflict:
                admitter.give_back(principal, taken)
                continue  # another request won a key meanwhile: decide again with fresh facts
            except StaleProject:
                admitter.give_back(principal, taken)
                admitter.forget_project(project.id)
                project = admitter.projects.get(project.id, principal)
                continue
            except BaseException as exc:
                admitter.give_back(principal, taken)
                if lost_race(exc):
                    continue
                if isinstance(exc, DataError):
                    raise bad_data() from exc
                raise
            for outcome in outcomes.values():
                if isinstance(outcome, Admitted) and not outcome.replayed:
                    admitter.writer.announce(outcome.run, project)
            return outcomes
        raise repository_changed()

    def _record(self, batch: Batch, principal: Principal, before: dict, outcomes: dict[Cell, Outcome]) -> BatchPublic:
        """The answer after this pass (the runs re-read: also those a concurrent send made), its refusals kept."""
        refused = [cell for cell, outcome in outcomes.items() if isinstance(outcome, DomainError)]
        withheld = batch.mode == 'all_or_nothing' and bool(refused)
        refusals = []
        for cell, outcome in outcomes.items():
            if isinstance(outcome, DomainError):
                problem = batch_rules.problem_of(outcome.status, outcome.error, outcome.detail, outcome.extra)
            elif withheld and not outcome.replayed:
                problem = batch_rules.withheld(len(refused))
            else:
                continue
            refusals.append({'depth_level': cell[0], 'target_framework': cell[1], 'problem': problem})
        batch.refusals = refusals
        batch.updated_at = utcnow()
        replayed = set(before) | {c for c, o in outcomes.items() if isinstance(o, Admitted) and o.replayed}
        runs = batch_store.children(self.engine, batch.id)
        answer = batch_store.answer(batch, runs, user_name=principal.name, replayed=replayed)
        batch_store.record_pass(self.engine, batch, answer)
        return answer
