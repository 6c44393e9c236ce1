"""HTTP <-> services. Mounted on NiceGUI's FastAPI app, or on a bare FastAPI app for API-only use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp

from app.api import (
    about,
    afk,
    artifacts,
    audit,
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
from app.api.routing import ApiDispatcher
from app.build_info import this_build
from app.config import Settings
from app.container import build_services

API_PREFIX = '/api'


def api_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)

    router.include_router(bulk.router)
    router.include_router(batches.router)
    for module in (runs, projects, events, me, artifacts):
        router.include_router(module.router)

    router.include_router(afk.router)
    router.include_router(history.router)
    router.include_router(issues.router)

    router.include_router(notifications.router)

    router.include_router(schedules.router)
    router.include_router(variables.router)

    router.include_router(hooks.router)
    router.include_router(tokens.router)
    router.include_router(users.router)
    router.include_router(workers.router)

    router.include_router(about.router)
    router.include_router(audit.router)
    router.include_router(health.router)
    return router


def install_api(
    app: FastAPI, *, max_body_bytes: int, allowed_hosts: tuple[str, ...] = (), enforce_hosts: bool = False
) -> None:
    """The routes, their problem+json handlers and the API's one layer in front (api/gate.py)."""
    app.include_router(api_router())
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

    app = FastAPI(title='Runboard', version=this_build().label, lifespan=lifespan)
    guard = guard_settings(settings)
    install_api(
        app, max_body_bytes=settings.max_body_bytes, allowed_hosts=guard['allowed'], enforce_hosts=guard['enforce']
    )
    return app
