"""A project's variables and secrets (docs/security.md): names for every member of its team, values of plain
variables too, a secret's value never; operators set and remove them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import PrincipalDep, ServicesDep
from app.api.schemas import problems
from app.models import VariableIn, VariablePublic
from app.services.projects import variables as project_variables

router = APIRouter(prefix='/projects/{project_id}', tags=['variables and secrets'])
NameParam = Annotated[str, Path(max_length=100, description='A name: letters, digits, underscores')]


def _routes(kind: str, *, secret: bool) -> None:
    async def list_(project_id: str, services: ServicesDep, principal: PrincipalDep) -> list[VariablePublic]:
        return await run_in_threadpool(
            project_variables.list_variables, services.engine, principal, project_id, secret=secret
        )

    async def put(
        project_id: str,
        name: NameParam,
        body: VariableIn,
        response: Response,
        services: ServicesDep,
        principal: PrincipalDep,
    ) -> VariablePublic:
        public, created = await run_in_threadpool(
            project_variables.set_variable,
            services.engine,
            principal,
            project_id,
            name,
            body.value,
            secret=secret,
            protected=body.protected,
            box=services.repositories.secrets,
        )
        response.status_code = 201 if created else 200
        return public

    async def delete(project_id: str, name: NameParam, services: ServicesDep, principal: PrincipalDep) -> Response:
        await run_in_threadpool(
            project_variables.remove_variable, services.engine, principal, project_id, name, secret=secret
        )
        return Response(status_code=204)

    noun = 'secret' if secret else 'variable'
    router.add_api_route(
        f'/{kind}',
        list_,
        methods=['GET'],
        response_model=list[VariablePublic],
        responses=problems(401, 404),
        summary=f"List the project's {kind}" + (' (names, who set each and when; never values)' if secret else ''),
        name=f'list_{kind}',
    )
    router.add_api_route(
        f'/{kind}/{{name}}',
        put,
        methods=['PUT'],
        response_model=VariablePublic,
        responses=problems(401, 403, 404, 409, 422),
        summary=f'Set a {noun} (201 when new, 200 when replaced)',
        name=f'set_{noun}',
    )
    router.add_api_route(
        f'/{kind}/{{name}}',
        delete,
        methods=['DELETE'],
        status_code=204,
        responses=problems(401, 403, 404),
        summary=f'Remove a {noun}',
        name=f'remove_{noun}',
    )


_routes('variables', secret=False)
_routes('secrets', secret=True)
