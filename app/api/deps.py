"""Request dependencies: the services container and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app.container import Services
from app.core.errors import DomainError
from app.services.identity.accounts import Principal


async def get_services(request: Request) -> Services:  # async: FastAPI would run a plain def in a thread
    return request.app.state.services


async def authenticate(request: Request) -> Principal | DomainError:
    """The caller, or the 401 to answer."""
    cached = request.scope.get('state', {}).get('principal')
    if cached is not None:
        return cached
    header = request.headers.get('authorization', '')
    scheme, _, token = header.partition(' ')
    if scheme.lower() != 'bearer' or not token.strip():
        return DomainError(
            401, 'unauthorized', 'Authorization: Bearer <token> is required.', headers={'WWW-Authenticate': 'Bearer'}
        )
    auth = request.app.state.services.auth
    principal = auth.cached(token.strip())
    if principal is False:
        principal = await run_in_threadpool(auth.authenticate, token.strip())
    if principal is None:
        return DomainError(401, 'unauthorized', 'The token is not valid.', headers={'WWW-Authenticate': 'Bearer'})
    request.scope.setdefault('state', {})['principal'] = principal
    return principal


async def get_principal(request: Request) -> Principal:
    outcome = await authenticate(request)
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome


async def auth_refusal(request: Request) -> DomainError | None:
    """For the error handlers: the 401 a request without valid credentials gets before anything else."""
    path = request.scope['path']
    if path.rstrip('/').endswith(('/health', '/health/live', '/health/ready')) or request.scope.get('route') is None:
        return None
    outcome = await authenticate(request)
    return outcome if isinstance(outcome, DomainError) else None


ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def correlation(request: Request) -> str:
    return request.scope.get('state', {}).get('correlation_id', '')
