"""The API's reference pages: /openapi.json, Swagger UI at /docs and ReDoc at /redoc, their scripts and styles
served by this server. FastAPI's own pages load them from a CDN, so on a machine without internet (or behind a
proxy that blocks jsdelivr) /docs was a blank page. The files come from the fastapi-offline package, which
bundles Swagger UI 5 (OpenAPI 3.1, what FastAPI writes) and ReDoc."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = '/docs-assets'
ASSETS_DIR = Path(str(files('fastapi_offline') / 'static'))
BEARER = 'bearer'
# probes; forges sign their deliveries instead; a badge's address carries its key
NO_TOKEN_PREFIXES = ('/api/health', '/api/hooks/', '/api/badges/')


def with_bearer_auth(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document saying what every API request needs: `Authorization: Bearer <token>` (api/deps.py),
    except the health probes, the forges' hooks and the badges. Swagger UI then offers "Authorize" and sends the
    token."""
    components = schema.setdefault('components', {})
    components.setdefault('securitySchemes', {})[BEARER] = {
        'type': 'http',
        'scheme': 'bearer',
        'description': 'An API token: an operator makes one for a person (Settings → People and tokens, or POST '
        '/api/users), and anyone signed in makes their own (Your tokens, `runboard tokens create NAME`, POST '
        "/api/tokens); in local mode the data directory's credentials.json holds the local one.",
    }
    schema['security'] = [{BEARER: []}]
    for path, operations in schema.get('paths', {}).items():
        if path.startswith(NO_TOKEN_PREFIXES):
            for operation in operations.values():
                operation['security'] = []
    return schema


def document_bearer_auth(app: FastAPI) -> None:
    """`app.openapi()` (built once, then cached by FastAPI) with the bearer scheme of with_bearer_auth."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_bearer_auth(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema


def serve_reference_pages(app: FastAPI) -> None:
    """Add /openapi.json, /docs and /redoc to `app` (made with all three off, as NiceGUI's app is)."""
    app.openapi_url = '/openapi.json'
    app.setup()  # FastAPI's /openapi.json route; its docs routes stay off (docs_url and redoc_url are None)
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name='docs-assets')
    oauth2_redirect = app.swagger_ui_oauth2_redirect_url or '/docs/oauth2-redirect'

    @app.get('/docs', include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or '/openapi.json',
            title=f'{app.title} API',
            oauth2_redirect_url=oauth2_redirect,
            swagger_js_url=f'{ASSETS_URL}/swagger-ui-bundle.js',
            swagger_css_url=f'{ASSETS_URL}/swagger-ui.css',
            swagger_favicon_url=f'{ASSETS_URL}/favicon.png',
            swagger_ui_parameters={'persistAuthorization': True},  # a pasted token survives a reload
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get('/redoc', include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or '/openapi.json',
            title=f'{app.title} API',
            redoc_js_url=f'{ASSETS_URL}/redoc.standalone.js',
            redoc_favicon_url=f'{ASSETS_URL}/favicon.png',
            with_google_fonts=False,
        )
