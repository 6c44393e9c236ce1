"""API tokens: everyone lists, creates and revokes their own (personal tokens; a new token's value is in that answer
only); operators also those of the people in their teams (one, or all of a person's by name)."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep
from app.api.people_schemas import NewTokenPublic, TokenCreate
from app.api.schemas import problems
from app.api.users import NO_STORE, forget
from app.container import Services
from app.core.token_rules import TokenRefusal
from app.services.identity import people, tokens
from app.services.identity.accounts import hash_token

router = APIRouter(prefix='/tokens', tags=['tokens'])


class LeftAlonePublic(BaseModel):
    user_id: str
    name: str
    reason: TokenRefusal
    detail: str


class Revoked(BaseModel):
    revoked: list[str]


class RevokedByName(Revoked):
    user_id: str = Field(description='Whose tokens these were')
    left_alone: list[LeftAlonePublic] = Field(
        description='The others of that name in your teams, whose tokens you may not revoke (untouched)'
    )


@router.get('', response_model=list[tokens.TokenInfo], responses=problems(401, 403))
async def list_tokens(services: ServicesDep, principal: PrincipalDep) -> list[tokens.TokenInfo]:
    """Operators: the tokens of the people in their teams; anyone else: their own (ids and owners; a token's secret
    is never stored)."""
    return await run_in_threadpool(tokens.list_tokens, services.engine, principal)


@router.post('', status_code=201, response_model=NewTokenPublic, responses=problems(401, 403, 404, 409, 422))
async def create_token(
    body: TokenCreate, response: Response, services: ServicesDep, principal: PrincipalDep
) -> NewTokenPublic:
    """A new token for the caller (no `user_id`, or their own), or (operators) for a person in their teams. It acts as
    its person, with their role. The answer carries it, once (the server keeps a hash)."""
    token = await run_in_threadpool(
        lambda: people.issue_token(services.engine, principal, user_id=body.user_id, name=body.name)
    )
    response.headers.update(NO_STORE)
    return NewTokenPublic.model_validate(dataclasses.asdict(token))


def _kept_digest(services: Services) -> str | None:
    """Local mode: the token its browser and CLI sign in with is not revoked through the API (a 409 says how to
    replace it); a team server's bootstrap token is an administrator's like any other."""
    token = services.local_token
    return hash_token(token) if token and not services.settings.is_team_mode else None


def _forget(services: Services, done: tokens.Revocation) -> None:
    forget(services, done.digests)  # every instance forgets them now


@router.delete('/{token_id}', response_model=Revoked, responses=problems(401, 403, 404, 409))
async def revoke_token(token_id: str, services: ServicesDep, principal: PrincipalDep) -> Revoked:
    """Revoke one of your tokens, or (operators) of a person in your teams; it answers 401 on every instance from
    now on (a browser signed in with it is signed out at its next request)."""
    kept = _kept_digest(services)
    done = await run_in_threadpool(tokens.revoke, services.engine, principal, token_id=token_id, kept_digest=kept)
    _forget(services, done)
    return Revoked(revoked=done.ids)


@router.post('/revoke', response_model=RevokedByName, responses=problems(401, 403, 404, 409, 422))
async def revoke_person(
    services: ServicesDep,
    principal: PrincipalDep,
    user: str = Query(min_length=1, max_length=200, description="The person's name"),
) -> RevokedByName:
    """Operators: revoke every token of the person of this name they manage. Names are not unique across teams:
    others of the name whose tokens the caller may not revoke are left alone (`left_alone`, with the reason);
    403 when the caller manages none of them, 409 `ambiguous_name` when several (revoke by token id then)."""
    kept = _kept_digest(services)
    done = await run_in_threadpool(tokens.revoke, services.engine, principal, user_name=user, kept_digest=kept)
    _forget(services, done)
    left = [LeftAlonePublic.model_validate(dataclasses.asdict(person)) for person in done.left_alone]
    return RevokedByName(revoked=done.ids, user_id=str(done.user_id), left_alone=left)
