"""GET /run-artifacts/{run_id}/{path}: one artifact from the UI's own address, streamed on from the API
(GET /api/runs/{id}/artifacts/{path}) with the credentials of the browser being served, chunk by chunk; and
GET /run-artifacts/{run_id}.zip, all of them in one archive (GET /api/runs/{id}/artifacts.zip), the same way.

As with /run-logs (pages/log_download.py), the UI may point at a remote API, so the browser cannot be sent to the
API directly. The API's Content-Type, Content-Disposition and `Content-Security-Policy: sandbox` are passed on:
an HTML report opens sandboxed (an opaque origin: no cookies, no same-origin requests to Runboard). So is what makes a
broken download resume: the browser's `Range` and `If-Range` go to the API, and its 206 comes back with
`Content-Range`, `Accept-Ranges` and `ETag` (a 416 with `Content-Range: bytes */size`), as the API answers them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from nicegui import app as web_app
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse

from app.client import ApiError
from app.client.artifacts import Chunks, StreamHead
from app.core.artifact_paths import path_problem
from app.state import connection, session
from app.state.log_links import is_run_id


@web_app.get('/run-artifacts/{run_id}.zip', include_in_schema=False)
async def download_all_artifacts(run_id: str) -> Response:
    return await _passed_on(run_id, 'the artifacts archive', lambda: connection.client().artifacts_zip_stream(run_id))


@web_app.get('/run-artifacts/{run_id}/{path:path}', include_in_schema=False)
async def download_artifact(run_id: str, path: str, request: Request) -> Response:
    if problem := path_problem(path):  # `..` would reach another API route with this browser's token
        return PlainTextResponse(f'No artifact {path!r} of run {run_id}: {problem}.', status_code=404)
    download = request.query_params.get('download') == 'true'
    byte_range, if_range = request.headers.get('range'), request.headers.get('if-range')
    return await _passed_on(
        run_id,
        repr(path),
        lambda: connection.client().artifact_stream(
            run_id, path, download=download, byte_range=byte_range, if_range=if_range
        ),
    )


async def _passed_on(run_id: str, what: str, stream: Callable[[], Chunks]) -> Response:
    if not is_run_id(run_id):
        return PlainTextResponse(f'Run {run_id} not found.', status_code=404)
    if connection.sign_in_required() and not session.current_token():
        return RedirectResponse(session.login_url(f'/runs/{run_id}'), status_code=303)
    chunks = stream()
    try:
        head, first = await anext(chunks, (StreamHead(200, {}), b''))
    except ApiError as exc:
        if exc.status == 401:
            session.sign_out()
            return RedirectResponse(session.login_url(f'/runs/{run_id}'), status_code=303)
        status = 502 if exc.is_network or exc.status >= 500 else exc.status
        # a range past the end: the file's size, so the browser asks again from its start
        size = (
            {'Content-Range': exc.headers['content-range']} if status == 416 and 'content-range' in exc.headers else {}
        )
        return PlainTextResponse(f'Could not read {what} of run {run_id}: {exc}', status_code=status, headers=size)

    async def body() -> AsyncIterator[bytes]:
        try:
            yield first
            async for _, chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()

    passed = {name: value for name, value in head.headers.items() if name != 'content-type'}
    return StreamingResponse(
        body(),
        status_code=head.status,
        media_type=head.headers.get('content-type', 'application/octet-stream'),
        headers={**passed, 'Cache-Control': 'private, no-store', 'X-Content-Type-Options': 'nosniff'},
    )
