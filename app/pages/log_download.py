"""GET /run-logs/{id}.log: a run's raw log from the UI's own address, streamed on from the API.

The browser talks to the UI process, and the UI may point at a remote API (`python main.py --server URL`),
so the download cannot link to the API directly: this route asks the API (GET /api/runs/{id}/log) with the
credentials of the browser being served (its signed-in token, or the process's own) and streams the
answer through chunk by chunk, byte for byte, as an attachment. The log is never held whole in memory.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import cast

from nicegui import app as web_app
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse

from app.client import ApiError
from app.state import connection, session
from app.state.log_links import download_name, download_path, is_run_id


def _refusal(exc: ApiError, run_id: str) -> Response:
    if exc.status == 401:
        session.sign_out()
        return RedirectResponse(session.login_url(f'/runs/{run_id}'), status_code=303)
    if exc.status == 404:
        return PlainTextResponse(f'Run {run_id} not found.', status_code=404)
    status = 502 if exc.is_network or exc.status >= 500 else exc.status
    return PlainTextResponse(f'Could not read the log of run {run_id}: {exc}', status_code=status)


@web_app.get(download_path('{run_id}'), include_in_schema=False)
async def download_log(run_id: str) -> Response:
    if not is_run_id(run_id):
        return PlainTextResponse(f'Run {run_id} not found.', status_code=404)
    if connection.sign_in_required() and not session.current_token():
        return RedirectResponse(session.login_url(f'/runs/{run_id}'), status_code=303)
    chunks = cast(AsyncGenerator[bytes, None], connection.client().run_log(run_id))  # an async generator
    try:
        first = await anext(chunks, b'')  # the API's status arrives with it: a refusal is answered as one
    except ApiError as exc:
        return _refusal(exc, run_id)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()

    return StreamingResponse(
        body(),
        media_type='text/plain; charset=utf-8',
        headers={
            'Content-Disposition': f'attachment; filename="{download_name(run_id)}"',
            'Cache-Control': 'no-store',
            'X-Content-Type-Options': 'nosniff',
        },
    )
