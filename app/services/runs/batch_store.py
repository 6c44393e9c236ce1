"""The batch row: claiming it under its (user, key) unique constraint, recording each pass's refusals, reading
a batch (by team, like its runs) and its children, and the answer built from them. The runs are the truth
about admitted children; the row keeps what only it knows: the request, and why the last pass refused."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core import ids
from app.core.errors import DomainError, not_found
from app.models import BATCH_PREFIX, Batch, BatchPublic, CommitInfo, Project, Run, RunPublic, User
from app.services.identity.accounts import Principal
from app.services.projects import visibility
from app.services.runs import batch_rules
from app.services.runs import reads as run_reads
from app.services.runs.batch_rules import Cell


def claim(
    engine: Engine, principal: Principal, *, project_id: str, key: str, fingerprint: str, mode: str, params: dict
) -> tuple[Batch, bool]:
    """(the batch, made by this request). The first request inserts the row; a second one with the same key, on
    any server, fails that insert and carries on with the first one's row (the children's keys then decide)."""
    batch = Batch(
        id=ids.new_run_id(BATCH_PREFIX),
        user_id=principal.user_id,
        project_id=project_id,
        key=key,
        fingerprint=fingerprint,
        mode=mode,
        params=params,
    )
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            session.add(batch)
        return batch, True
    except IntegrityError:
        pass
    with Session(engine, expire_on_commit=False) as session:
        found = session.exec(select(Batch).where(Batch.user_id == principal.user_id, Batch.key == key)).first()
    if found is None:  # the insert failed on something else (the project deleted meanwhile): say so plainly
        raise not_found(f'project {project_id!r}')
    if found.fingerprint != fingerprint:
        raise DomainError(
            422, 'idempotency_key_mismatch', 'This Idempotency-Key was already used for a different batch.'
        )
    return found, False


def children(engine: Engine, batch_id: str) -> dict[Cell, RunPublic]:
    """The batch's runs by cell (the unique index makes one per cell), as they are now."""
    query = (
        select(Run, User.name)
        .outerjoin(User, col(User.id) == col(Run.user_id))
        .where(col(Run.batch_id) == batch_id)
        .order_by(col(Run.id))
    )
    with Session(engine) as session:
        rows = session.exec(query).all()
    return {(run.depth_level, run.target_framework): run_reads.public(run, name) for run, name in rows}


def record_pass(engine: Engine, batch: Batch, answer: BatchPublic) -> None:
    """Keep what this pass refused (batch.refusals, at batch.updated_at) and the status after it; a later pass,
    or a run of a refused child, supersedes it."""
    with Session(engine) as session, session.begin():
        row = session.get(Batch, batch.id)
        if row is None:  # deleted with its project meanwhile
            return
        row.refusals = batch.refusals
        row.status = answer.status
        row.admitted, row.refused = answer.summary['admitted'], answer.summary['refused']
        row.updated_at = batch.updated_at
        session.add(row)


def load_visible(engine: Engine, principal: Principal, batch_id: str) -> tuple[Batch, str | None]:
    """(the batch, its creator's name); another team's batch does not exist (404)."""
    with Session(engine, expire_on_commit=False) as session:
        batch = session.get(Batch, batch_id)
        project = session.get(Project, batch.project_id) if batch else None
        if batch is None or project is None or not visibility.visible(project, principal):
            raise not_found(f'batch {batch_id!r}')
        user = session.get(User, batch.user_id)
        return batch, user.name if user else None


def commit_title(engine: Engine, sha: str | None) -> str | None:
    """The title of the commit every child runs, once a child's start (or a read) has learned it."""
    if not sha:
        return None
    with Session(engine) as session:
        commit = session.get(CommitInfo, sha)
        return commit.title if commit is not None else None


def answer(
    batch: Batch,
    runs: dict[Cell, RunPublic],
    *,
    user_name: str | None,
    replayed: Collection[Cell] = (),
) -> BatchPublic:
    """The batch with one child per cell: admitted (its run now), refused (the last pass's problem), or pending
    (not tried yet: a pass is at work, or one stopped short; a resend completes it)."""
    params = batch.params
    refused = {(r['depth_level'], r['target_framework']): r['problem'] for r in batch.refusals or []}
    items = []
    for cell in batch_rules.cells(params['depth_level'], params['target_framework']):
        run = runs.get(cell)
        item: dict[str, Any] = {'depth_level': cell[0], 'target_framework': cell[1]}
        if run is not None:
            item |= {'outcome': 'admitted', 'run': run, 'replayed': cell in replayed}
        elif cell in refused:
            item |= {'outcome': 'refused', 'problem': refused[cell]}
        else:
            item |= {'outcome': 'pending'}
        items.append(item)
    counts = batch_rules.summary(item['outcome'] for item in items)
    status = batch_rules.batch_status(admitted=counts['admitted'], refused=counts['refused'], pending=counts['pending'])
    return BatchPublic.model_validate(
        {
            'id': batch.id,
            'project_id': batch.project_id,
            'branch': params['branch'],
            'mode': batch.mode,
            'matrix': {'depth_level': params['depth_level'], 'target_framework': params['target_framework']},
            'commit_sha': params.get('commit_sha'),
            'variables': params.get('variables') or {},
            'idempotency_key': batch.key,
            'user_id': batch.user_id,
            'user_name': user_name,
            'status': status,
            'summary': counts,
            'runs_by_status': dict(sorted(Counter(run.status for run in runs.values()).items())),
            'children': items,
            'created_at': batch.created_at,
            'updated_at': batch.updated_at,
        }
    )
