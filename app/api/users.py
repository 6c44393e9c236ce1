"""People (operators): who is in their teams, with their tokens; add a person, who gets a first token (shown in
that answer only). GET /teams: the caller's teams (any role), to choose from when creating a project or a person."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep
from app.api.people_schemas import PersonCreate, PersonCreated, PersonPublic, TeamPublic
from app.api.schemas import problems
from app.models import Role
from app.services.identity import people

router = APIRouter(tags=['people'])
NO_STORE = {'Cache-Control': 'no-store'}  # an answer carrying a token must not be kept by any cache


@router.get('/users', response_model=list[PersonPublic], responses=problems(401, 403))
async def list_people(services: ServicesDep, principal: PrincipalDep) -> list[PersonPublic]:
    """Operators: the people in their teams (their teams among the caller's, their tokens: never the secrets)."""
    found = await run_in_threadpool(people.list_people, services.engine, principal)
    return [PersonPublic.model_validate(dataclasses.asdict(person)) for person in found]


@router.post('/users', status_code=201, response_model=PersonCreated, responses=problems(401, 403, 409, 422))
async def add_person(
    body: PersonCreate, response: Response, services: ServicesDep, principal: PrincipalDep
) -> PersonCreated:
    """Operators: add a person to one of their teams. The answer carries their first token, once."""
    person, token = await run_in_threadpool(
        lambda: people.add_person(
            services.engine,
            principal,
            name=body.name,
            role=Role(body.role),
            team_id=body.team_id,
            token_name=body.token_name,
        )
    )
    response.headers.update(NO_STORE)
    return PersonCreated.model_validate({'person': dataclasses.asdict(person), 'token': dataclasses.asdict(token)})


@router.get('/teams', response_model=list[TeamPublic], responses=problems(401))
async def list_teams(services: ServicesDep, principal: PrincipalDep) -> list[TeamPublic]:
    """The caller's teams (ids and names)."""
    found = await run_in_threadpool(people.list_teams, services.engine, principal)
    return [TeamPublic(id=team.id, name=team.name) for team in found]
