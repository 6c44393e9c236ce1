"""API tokens: operators list their teams' tokens, create one for a person (its value is in that answer only),
and revoke them (one, or all of a person's)."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep
from app.api.people_schemas import NewTokenPublic, TokenCreate
from app.api.schemas import problems
from app.api.users import NO_STORE
from app.container import Services
from app.services.identity import people, tokens

router = APIRouter(prefix='/tokens', tags=['tokens'])


class Revoked(BaseModel):
    revoked: list[str]


@router.get('', response_model=list[tokens.TokenInfo], responses=problems(401, 403))
async def list_tokens(services: ServicesDep, principal: PrincipalDep) -> list[tokens.TokenInfo]:
    """Operators: the tokens of the people in their teams (ids and owners; a token's secret is never stored)."""
    return await run_in_threadpool(tokens.list_tokens, services.engine, principal)


@router.post('', status_code=201, response_model=NewTokenPublic, responses=problems(401, 403, 404, 409, 422))
async def create_token(
    body: TokenCreate, response: Response, services: ServicesDep, principal: PrincipalDep
) -> NewTokenPublic:
    """Operators: a new token for a person in their teams. The answer carries it, once (the server keeps a hash)."""
    token = await run_in_threadpool(
        lambda: people.issue_token(services.engine, principal, user_id=body.user_id, name=body.name)
    )
    response.headers.update(NO_STORE)
    return NewTokenPublic.model_validate(dataclasses.asdict(token))


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
