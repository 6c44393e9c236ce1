"""Request dependencies: the services container and the authenticated principal."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app.container import Services
from app.core.errors import DomainError
from app.core.origins import BROWSER_ADDRESS_HEADER, counted_address
from app.services.identity.accounts import Principal

log = logging.getLogger(__name__)


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
    services = request.app.state.services
    principal = services.auth.cached(token.strip())
    if not principal:  # not cached (False), or cached as not valid (None)
        address = request_address(request)
        if wait := services.failed_sign_ins.retry_after(address):
            log.warning('refused a token from %s: too many failed sign-ins in the last minute', address)
            return DomainError(
                429,
                'too_many_failed_sign_ins',
                f'Too many failed sign-ins from this address in the last minute. Try again in {wait} s.',
                headers={'Retry-After': str(wait)},
                retry_after_seconds=wait,
            )
        if principal is False:
            principal = await run_in_threadpool(services.auth.authenticate, token.strip())
        if principal is None:
            services.failed_sign_ins.record(address)
            return DomainError(401, 'unauthorized', 'The token is not valid.', headers={'WWW-Authenticate': 'Bearer'})
    request.scope.setdefault('state', {})['principal'] = principal
    return principal


def request_address(request: Request) -> str | None:
    """Whose failed sign-ins a request's are (services/identity/failed_sign_ins.py)."""
    return counted_address(request.client.host if request.client else None, request.headers.get(BROWSER_ADDRESS_HEADER))


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
