"""Workers (executor=celery): everyone signed in sees them; deployment administrators drain, undrain and remove them
(the workers serve every team, so a team's operator may not take them away from the others)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep
from app.api.schemas import problems
from app.container import Services
from app.core.errors import DomainError
from app.models import WorkerPublic
from app.services.execution import workers
from app.services.identity.accounts import Principal

router = APIRouter(prefix='/workers', tags=['workers'])


class WorkersPage(BaseModel):
    executor: str  # 'local': runs are children of the server and no worker is involved
    capacity: int  # the slots of the live, undrained workers: the cap on runs executing at once
    busy: int  # of those slots (never more than capacity)
    finishing: int = 0  # runs still executing on draining workers (they take no new ones)
    items: list[WorkerPublic]


@router.get('', response_model=WorkersPage, responses=problems(401))
async def list_workers(services: ServicesDep, principal: PrincipalDep) -> WorkersPage:
    """Every worker that has registered (lost and stopped ones too, with their state), by name."""
    items = await run_in_threadpool(
        workers.list_workers, services.engine, heartbeat_seconds=services.settings.heartbeat_seconds
    )
    serving = [w for w in items if w.state == 'live']
    return WorkersPage(
        executor=services.settings.executor,
        capacity=sum(w.slots for w in serving),
        busy=sum(w.busy for w in serving),
        finishing=sum(w.busy for w in items if w.state == 'draining'),
        items=items,
    )


def _require_admin(principal: Principal, doing: str) -> None:
    if not principal.is_admin:
        raise DomainError(
            403,
            'admin_required',
            f'{doing} needs a deployment administrator: the workers serve every team. '
            f'{principal.name} is a team {principal.role}, not an administrator (one is made with '
            '"runboard users add NAME --admin").',
        )


async def _set(services: Services, principal: Principal, name: str, draining: bool) -> WorkerPublic:
    _require_admin(principal, 'Draining or undraining a worker')
    answer = await run_in_threadpool(
        workers.set_draining, services.engine, name, draining, heartbeat_seconds=services.settings.heartbeat_seconds
    )
    services.bus.publish({'type': 'queue'})
    return answer


@router.post('/{name}/drain', response_model=WorkerPublic, responses=problems(401, 403, 404))
async def drain_worker(name: str, services: ServicesDep, principal: PrincipalDep) -> WorkerPublic:
    """The worker takes no new runs (on its next heartbeat) while the ones it holds finish. Idempotent."""
    return await _set(services, principal, name, True)


@router.post('/{name}/undrain', response_model=WorkerPublic, responses=problems(401, 403, 404))
async def undrain_worker(name: str, services: ServicesDep, principal: PrincipalDep) -> WorkerPublic:
    """The worker takes runs again. Idempotent."""
    return await _set(services, principal, name, False)


@router.delete('/{name}', status_code=204, responses=problems(401, 403, 404, 409))
async def remove_worker(name: str, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Forget a stopped or lost worker now (the hourly sweep forgets them after RUNBOARD_WORKER_RETENTION_DAYS).
    409 `worker_live` while it is live or draining (it would register again at its next heartbeat: drain and stop
    it first), 409 `worker_busy` while it still owns a running run."""
    _require_admin(principal, 'Removing a worker')
    await run_in_threadpool(
        workers.remove, services.engine, name, heartbeat_seconds=services.settings.heartbeat_seconds
    )
    services.bus.publish({'type': 'queue'})
    return Response(status_code=204)
