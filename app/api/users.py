"""People (operators): who is in their teams, with their tokens; add a person, who gets a first token (shown in
that answer only); change a person's role; remove a person from their teams (and what that would do, first).
GET /teams: the caller's teams (any role), to choose from when creating a project or a person. A role change or a
removal takes effect on every instance at once: the person's tokens are forgotten everywhere (`forget`), so their
next request is read from the database again."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep
from app.api.people_schemas import (
    PersonCreate,
    PersonCreated,
    PersonPublic,
    PersonUpdate,
    RemovalPublic,
    TeamPublic,
)
from app.api.schemas import problems
from app.container import Services
from app.models import Role
from app.services.identity import people
from app.services.identity.tokens import REVOKED_EVENT

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


def forget(services: Services, digests: list[str]) -> None:
    """Every instance forgets what it cached of these tokens now (the bus carries it, as a revocation): a token
    deleted answers 401 from its next request, one kept is read again with its person's role and teams."""
    if digests:
        services.bus.publish({'type': REVOKED_EVENT, 'digests': digests})
        services.auth.forget(digests)


@router.patch('/users/{user_id}', response_model=PersonPublic, responses=problems(401, 403, 404, 409, 422))
async def change_role(user_id: str, body: PersonUpdate, services: ServicesDep, principal: PrincipalDep) -> PersonPublic:
    """Operators: make a person in their teams an operator or a builder, from their next request on every instance.
    403 (`reason`) for someone also in a team you are not in or a deployment administrator (unless you are one), as
    for their tokens; 409 `last_operator` for a team's last operator becoming a builder, you too. The same role
    again: the person, unchanged."""
    done = await run_in_threadpool(people.change_role, services.engine, principal, user_id, Role(body.role))
    forget(services, done.digests)
    return PersonPublic.model_validate(dataclasses.asdict(done.person))


def _removal_public(done: people.Removal) -> RemovalPublic:
    return RemovalPublic.model_validate(
        {
            **{k: v for k, v in dataclasses.asdict(done).items() if k != 'digests'},
            'tokens_revoked': len(done.tokens_revoked),
        }
    )


@router.get('/users/{user_id}/removal', response_model=RemovalPublic, responses=problems(401, 403, 404, 409))
async def removal_preview(user_id: str, services: ServicesDep, principal: PrincipalDep) -> RemovalPublic:
    """Operators: what removing this person from your teams would do now (nothing changes), or the refusal it would
    meet: the confirmation reads it."""
    found = await run_in_threadpool(people.removal_preview, services.engine, principal, user_id)
    return _removal_public(found)


@router.delete('/users/{user_id}', response_model=RemovalPublic, responses=problems(401, 403, 404, 409))
async def remove_person(user_id: str, services: ServicesDep, principal: PrincipalDep) -> RemovalPublic:
    """Operators: remove a person from every team of yours they are in (a team of theirs you are not in keeps them).
    In no team any more, their tokens are deleted (401 from the next request, on every instance). Their running
    schedules on those teams' projects are paused; projects whose push rules run as them are named (save the rules
    again to own them). 403 `reason` admin for a deployment administrator (unless you are one); 409
    `last_operator` for a team's last operator, you too."""
    done = await run_in_threadpool(people.remove_person, services.engine, principal, user_id)
    forget(services, done.digests)
    for project in {(paused.project_id, paused.team_id) for paused in done.schedules_paused}:
        services.bus.publish({'type': 'project', 'id': project[0], 'team_id': project[1]})  # cards and schedules
    return _removal_public(done)


@router.get('/teams', response_model=list[TeamPublic], responses=problems(401))
async def list_teams(services: ServicesDep, principal: PrincipalDep) -> list[TeamPublic]:
    """The caller's teams (ids and names)."""
    found = await run_in_threadpool(people.list_teams, services.engine, principal)
    return [TeamPublic(id=team.id, name=team.name) for team in found]
