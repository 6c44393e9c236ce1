"""What a process that hosts the API adds to its UI (app/server.py): the database answering and migrated before
anything is served, the services, and the API with its reference pages in front of NiceGUI's app.

Only such a process imports this module: a UI-only process (`runboard serve --server URL`) talks to its API over
HTTP and never loads the API's routes, the services or SQLAlchemy, about 1.5 s of CPU of its start
(tests/unit/test_ui_only_start.py keeps it so)."""

from __future__ import annotations

from fastapi import FastAPI

from app.api.application import serve_api_first
from app.api.reference_pages import serve_reference_pages
from app.config import Settings
from app.container import Services, build_services
from app.infra.db import StartupError, preflight
from app.infra.events import STOPPING_EVENT


def serve_api_in_front(web_app: FastAPI, settings: Settings) -> None:
    serve_api_first(web_app, settings)
    serve_reference_pages(web_app)


def end_streams(services: Services) -> None:
    """The event streams served here end at once: the server is stopping (server.end_streams_when_stopping)."""
    services.bus.deliver_here({'type': STOPPING_EVENT})


__all__ = ['serve_api_in_front', 'build_services', 'preflight', 'StartupError', 'end_streams', 'Services']
