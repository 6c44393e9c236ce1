"""HTTP <-> services. Mounted on NiceGUI's FastAPI app, or on a bare FastAPI app for API-only use."""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from app.api import events, me, projects, runs
from app.api.deps import auth_refusal
from app.api.problems import BodyLimitMiddleware, CorrelationMiddleware, install_error_handlers
from app.api.routing import ApiPathMiddleware
from app.config import Settings

API_PREFIX = '/api'


def api_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)
    for module in (runs, projects, events, me):
        router.include_router(module.router)
    from app.api import afk, issues
    router.include_router(afk.router)
    router.include_router(issues.router)

    @router.get('/health', tags=['health'])
    async def health() -> dict:
        return {'status': 'ok'}
    return router


def install_api(app: FastAPI, *, max_body_bytes: int) -> None:
    app.include_router(api_router())
    install_error_handlers(app, api_prefix=API_PREFIX, auth_check=auth_refusal, extra_headers=runs.quota_headers)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes, api_prefix=API_PREFIX)
    app.add_middleware(ApiPathMiddleware, prefix=API_PREFIX)
    app.add_middleware(CorrelationMiddleware, api_prefix=API_PREFIX)


def build_api_app(settings: Settings) -> FastAPI:
    """API only (tests, benches, headless servers)."""
    from app.services.container import build_services

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        services = build_services(settings)
        app.state.services = services
        await services.start()
        try:
            yield
        finally:
            await services.close()

    app = FastAPI(title='Runboard API', lifespan=lifespan)
    install_api(app, max_body_bytes=settings.max_body_bytes)
    return app
