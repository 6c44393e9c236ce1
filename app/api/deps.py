"""Request dependencies: the services container and the authenticated principal."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app.services.accounts import Principal
from app.services.container import Services
from app.services.errors import DomainError


def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_principal(request: Request) -> Principal:
    header = request.headers.get('authorization', '')
    scheme, _, token = header.partition(' ')
    if scheme.lower() != 'bearer' or not token.strip():
        raise DomainError(401, 'unauthorized', 'Authorization: Bearer <token> is required.',
                          headers={'WWW-Authenticate': 'Bearer'})
    principal = await run_in_threadpool(request.app.state.services.auth.authenticate, token.strip())
    if principal is None:
        raise DomainError(401, 'unauthorized', 'The token is not valid.', headers={'WWW-Authenticate': 'Bearer'})
    return principal


ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def correlation(request: Request) -> str:
    return request.scope.get('state', {}).get('correlation_id', '')
