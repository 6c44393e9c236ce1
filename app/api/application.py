"""The API application: its routers as one flat list, their problem+json handlers and its gate, mounted in front of
NiceGUI's app (the full server) or on a bare FastAPI app (API-only: tests, benches, headless servers)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp

from app.api import (
    about,
    afk,
    artifacts,
    audit,
    badges,
    batches,
    bulk,
    events,
    health,
    history,
    hooks,
    issues,
    me,
    notifications,
    projects,
    runs,
    schedules,
    tokens,
    users,
    variables,
    workers,
)
from app.api.deps import auth_refusal
from app.api.gate import ApiGate
from app.api.hosts import guard_settings
from app.api.problems import install_error_handlers
from app.api.reference_pages import document_bearer_auth, serve_reference_pages
from app.api.routing import ApiDispatcher
from app.build_info import this_build
from app.config import Settings
from app.container import build_services

API_PREFIX = '/api'


def api_routers() -> list[APIRouter]:
    """The API's routers, in matching order."""
    return [
        bulk.router,
        batches.router,
        runs.router,
        projects.router,
        events.router,
        me.router,
        artifacts.router,
        afk.router,
        afk.project_router,
        history.router,
        issues.router,
        notifications.router,
        schedules.router,
        schedules.project_router,
        variables.router,
        hooks.router,
        badges.router,
        tokens.router,
        users.router,
        workers.router,
        about.router,
        audit.router,
        health.router,
    ]


@cache
def flat_api_routes() -> tuple[APIRoute, ...]:
    """The API's routes as one flat list under API_PREFIX, as `include_router` added them until FastAPI 0.137. Since
    then it keeps included routers as a tree walked on every request, with bookkeeping per candidate route: on this
    API that walk was a third of a request's server CPU (bench/fanout.py's follower reads). A flat list is matched in
    one pass of path patterns. Each route is a copy made by FastAPI itself (add_api_route), so the routers' own
    routes stay as they were, and so do /docs and /openapi.json.

    Made once a process and shared by every app in it (the full server has two: the API in front and NiceGUI's app,
    which lists the routes in /docs; tests build hundreds): a route holds no state of an app (a request's app is
    `request.app`), and making the copies is most of the cost of building an app (pydantic adapters per field)."""
    flat = APIRouter()
    for router in api_routers():
        for route in router.routes:
            if not isinstance(route, APIRoute):  # a nested include_router: list that router above instead
                raise TypeError(f'{route!r} in the API routers is not a route')
            flat.add_api_route(
                API_PREFIX + route.path,
                route.endpoint,
                response_model=route.response_model,
                status_code=route.status_code,
                tags=route.tags,
                dependencies=route.dependencies,
                summary=route.summary,
                description=route.description,
                response_description=route.response_description,
                responses=route.responses,
                deprecated=route.deprecated,
                methods=route.methods,
                operation_id=route.operation_id,
                response_model_include=route.response_model_include,
                response_model_exclude=route.response_model_exclude,
                response_model_by_alias=route.response_model_by_alias,
                response_model_exclude_unset=route.response_model_exclude_unset,
                response_model_exclude_defaults=route.response_model_exclude_defaults,
                response_model_exclude_none=route.response_model_exclude_none,
                include_in_schema=route.include_in_schema,
                response_class=route.response_class,
                name=route.name,
                callbacks=route.callbacks,
                openapi_extra=route.openapi_extra,
                generate_unique_id_function=route.generate_unique_id_function,
            )
    return tuple(route for route in flat.routes if isinstance(route, APIRoute))


def add_api_routes(app: FastAPI) -> None:
    app.router.routes.extend(flat_api_routes())


def install_api(
    app: FastAPI, *, max_body_bytes: int, allowed_hosts: tuple[str, ...] = (), enforce_hosts: bool = False
) -> None:
    """The routes, their problem+json handlers and the API's one layer in front (api/gate.py)."""
    add_api_routes(app)
    document_bearer_auth(app)
    install_error_handlers(app, api_prefix=API_PREFIX, auth_check=auth_refusal, extra_headers=runs.quota_headers)
    app.add_middleware(
        ApiGate,
        prefix=API_PREFIX,
        max_body_bytes=max_body_bytes,
        allowed_hosts=allowed_hosts,
        enforce_hosts=enforce_hosts,
    )


def serve_api_first(web_app: FastAPI, settings: Settings) -> FastAPI:
    """The full server: web_app (NiceGUI's) keeps the API routes, so its /docs and /openapi.json list
    them, but API requests are answered by a separate API application placed in front of web_app's
    whole middleware stack (added when that stack is first built, i.e. after ui.run added NiceGUI's
    middlewares, and after server.guard_hosts wrapped it). So an API request meets the dispatcher and the API's
    own gate (host guard, security headers, correlation id, body limit: api/gate.py), none of the UI's layers.
    Both apps share one state object: the services put on web_app.state at startup."""
    web_app.title, web_app.version = 'Runboard', this_build().label  # the API docs at /docs say what they are
    install_api(web_app, max_body_bytes=settings.max_body_bytes)  # behind the UI's guards already
    # FastAPI's native OpenTelemetry stays on web_app, whose __call__ wraps this dispatch too; checking
    # again here would only cost each API request a second provider lookup
    api_app = FastAPI(
        title='Runboard',
        version=this_build().label,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry={'tracing': False, 'metrics': False, 'logs': False},
    )
    guard = guard_settings(settings)
    install_api(
        api_app, max_body_bytes=settings.max_body_bytes, allowed_hosts=guard['allowed'], enforce_hosts=guard['enforce']
    )
    api_app.state = web_app.state
    build_ui_stack = web_app.build_middleware_stack

    def build_stack() -> ASGIApp:  # API requests past the UI's stack
        return ApiDispatcher(build_ui_stack(), api_app, API_PREFIX)

    # wrapped on this one app instance on purpose (mypy refuses any assignment to a method)
    web_app.build_middleware_stack = build_stack  # type: ignore[method-assign]
    return api_app


def build_api_app(settings: Settings) -> FastAPI:
    """API only (tests, benches, headless servers)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings)
        app.state.services = services
        try:
            await services.start()  # all or nothing: a part that fails closes the others, nothing is served
            yield
        finally:
            await services.close()

    app = FastAPI(
        title='Runboard', version=this_build().label, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    serve_reference_pages(app)
    guard = guard_settings(settings)
    install_api(
        app, max_body_bytes=settings.max_body_bytes, allowed_hosts=guard['allowed'], enforce_hosts=guard['enforce']
    )
    return app
