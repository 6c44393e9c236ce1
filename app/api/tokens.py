"""API tokens: operators list their teams' tokens and revoke them (one, or all of a person's)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep
from app.api.schemas import problems
from app.services import tokens
from app.services.container import Services

router = APIRouter(prefix='/tokens', tags=['tokens'])


class Revoked(BaseModel):
    revoked: list[str]


@router.get('', response_model=list[tokens.TokenInfo], responses=problems(401, 403))
async def list_tokens(services: ServicesDep, principal: PrincipalDep) -> list[tokens.TokenInfo]:
    """Operators: the tokens of the people in their teams (ids and owners; a token's secret is never stored)."""
    return await run_in_threadpool(tokens.list_tokens, services.engine, principal)


def _revoked(services: Services, ids: list[str], digests: list[str]) -> Revoked:
    services.bus.publish({'type': tokens.REVOKED_EVENT, 'digests': digests})  # every instance forgets them now
    services.auth.forget(digests)
    return Revoked(revoked=ids)


@router.delete('/{token_id}', response_model=Revoked, responses=problems(401, 403, 404))
async def revoke_token(token_id: str, services: ServicesDep, principal: PrincipalDep) -> Revoked:
    """Operators: revoke one token; it answers 401 on every instance from now on."""
    ids, digests = await run_in_threadpool(tokens.revoke, services.engine, principal, token_id=token_id)
    return _revoked(services, ids, digests)


@router.post('/revoke', response_model=Revoked, responses=problems(401, 403, 404, 422))
async def revoke_person(
    services: ServicesDep,
    principal: PrincipalDep,
    user: str = Query(min_length=1, max_length=200, description="The person's name"),
) -> Revoked:
    """Operators: revoke every token of a person in their teams."""
    ids, digests = await run_in_threadpool(tokens.revoke, services.engine, principal, user_name=user)
    return _revoked(services, ids, digests)
