"""Probes in the usual split: liveness (the process answers) and readiness (its dependencies answer)."""

from __future__ import annotations

import redis
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from app.api.schemas import problems
from app.container import Services
from app.core.errors import DomainError, dependency_unavailable
from app.core.startup import not_ready
from app.infra.redis import sync_client

router = APIRouter(prefix='/health', tags=['health'])


@router.get('')
@router.get('/live', responses=problems(503))
async def live(request: Request) -> dict:
    """Liveness: this process completed its start-up and serves requests (`/api/health` is the same probe).
    Never touches a dependency, so an outage does not get a healthy process restarted."""
    services: Services | None = getattr(request.app.state, 'services', None)
    if services is None or not services.started:
        raise DomainError(503, 'starting', 'Start-up has not completed.', headers={'Retry-After': '1'})
    return {'status': 'ok'}


def _database_answers(services: Services) -> str | None:
    try:
        with services.engine.connect() as conn:
            conn.exec_driver_sql('SELECT 1')
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f'{type(exc).__name__}'


def _redis_answers(services: Services) -> str | None:
    url = services.settings.redis_url
    if not url:
        return None
    client = sync_client(url, socket_timeout=1.0)
    try:
        client.ping()
        return None
    except redis.RedisError as exc:
        return f'{type(exc).__name__}'
    finally:
        client.close()


@router.get('/ready', responses=problems(503))
async def ready(request: Request) -> dict:
    """Readiness: start-up completed, the database answers and, in team mode, Redis does, and what start-up
    brought up still runs (the event listener, the scheduler); else 503 naming what is not ready."""
    services: Services | None = getattr(request.app.state, 'services', None)
    if services is None or not services.started:
        raise DomainError(503, 'starting', 'Not ready: start-up has not completed.', headers={'Retry-After': '1'})
    checks = {
        'database': await run_in_threadpool(_database_answers, services),
        'redis': await run_in_threadpool(_redis_answers, services),
        **services.not_started(),
    }
    down = not_ready(checks)
    if down:
        error: DomainError = dependency_unavailable(down[0], f'Not ready: {" and ".join(down)} not answering.')
        error.extra['dependencies'] = {
            name: ('down: ' + failure if failure else 'ok') for name, failure in checks.items()
        }
        raise error
    return {
        'status': 'ready',
        **{name: 'ok' for name in checks},
        'redis': 'ok' if services.settings.redis_url else 'not used',
    }
