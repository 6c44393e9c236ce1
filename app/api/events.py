"""GET /events: server-sent events of the changes the caller may see."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from app.api.deps import PrincipalDep, ServicesDep
from app.core.errors import DomainError
from app.infra.events import LISTENER_DOWN_EVENT, STOPPING_EVENT
from app.services.execution.liveness import USAGE_EVENT
from app.services.identity.accounts import hash_token
from app.services.identity.tokens import REVOKED_EVENT

router = APIRouter(tags=['events'])
STREAM_DESCRIPTION = """Server-sent events of the changes you may see (your teams' runs and projects); `project=ID` or
`run=ID` narrows the stream to one. Each frame is `event: TYPE` and `data: JSON`:

- `run`: a run was admitted or its status changed: `{type, id, project_id, team_id, status}` (and `batch_id` for
  a run of a matrix batch).
- `run.output`: a run stored more of its log: `{type, id, project_id, team_id, last_seq, output_lines}`, plus
  `stage: true` when its stages changed and `usage: true` when its spend did. `last_seq` is the number of its newest
  log line (read the lines with `GET /api/runs/{id}/events?after=N`); `output_lines` is how many of its lines the run
  printed (the others are status changes, stage markers and Runboard's notes).
- `run.usage`: what a running run's processes used so far, from its cgroup, at each heartbeat (every 5 s):
  `{type, id, project_id, team_id, peak_memory_bytes, cpu_seconds, memory_max_bytes}` (a value its machine does
  not count is null). The run's own `peak_memory_bytes` and `cpu_seconds` say the same until its end gives the
  final figures.
- `project`: a project's settings, auto-loop, schedules, issues or webhooks changed: `{type, id, team_id}`.

A comment line (`: keep-alive`) comes every 15 s. Events are not replayed: after a reconnect, read again what
you show. The stream ends when the server stops, when your token is revoked, and when this server's event listener
loses Redis (it would miss what other servers and workers change): until it has it again, connecting answers `503
live_updates_paused` with a Retry-After and `paused_since` (when the listener lost Redis), so a page says its live
updates are paused instead of showing a stream that stays silent."""
KEEPALIVE_SECONDS = 15
LIVE_RETRY_SECONDS = 2
ENDS_THE_STREAM = (STOPPING_EVENT, LISTENER_DOWN_EVENT)
FRAMES_KEPT = 1024
_frames: dict[int, tuple[dict, str]] = {}  # id(event) -> (the event, its frame); kept alive, so its id stays its


def frame_of(event: dict) -> str:
    """An event's SSE frame. The bus hands every stream the same dict, so a change followed by many tabs (the
    dashboard's run.output events) is serialised once, not once per stream."""
    kept = _frames.get(id(event))
    if kept is not None and kept[0] is event:
        return kept[1]
    frame = f'event: {event["type"]}\ndata: {json.dumps(event, default=str)}\n\n'
    _frames[id(event)] = (event, frame)
    if len(_frames) > FRAMES_KEPT:
        del _frames[next(iter(_frames))]  # the oldest
    return frame


@router.get(
    '/events',
    response_class=StreamingResponse,
    responses={200: {'content': {'text/event-stream': {}}, 'description': 'A stream of change events'}},
    summary='Follow changes live',
    description=STREAM_DESCRIPTION,
)
async def events(
    request: Request, services: ServicesDep, principal: PrincipalDep, project: str | None = None, run: str | None = None
) -> StreamingResponse:
    own_digest = hash_token(request.headers.get('authorization', '').partition(' ')[2].strip())

    if failure := services.bus.live_failure():
        raise DomainError(
            503,
            'live_updates_paused',
            f'Live updates are paused: this server cannot hear the other servers and workers ({failure}). Connect '
            'again shortly, and read again what you show.',
            headers={'Retry-After': str(LIVE_RETRY_SECONDS)},
            retry_after_seconds=LIVE_RETRY_SECONDS,
            paused_since=since.isoformat() if (since := services.bus.live_paused_since()) else None,
        )

    def wanted(event: dict) -> bool:
        if event.get('type') in ENDS_THE_STREAM:  # the client reconnects (and reads again what it shows)
            return True
        if event.get('type') not in ('run', 'run.output', USAGE_EVENT, 'project'):
            return False
        if event.get('team_id') not in principal.team_ids:
            return False
        if project and event.get('project_id', event.get('id')) != project:
            return False
        return not run or event.get('id') == run

    def revokes_this_stream(event: dict) -> bool:
        return event.get('type') == REVOKED_EVENT and own_digest in (event.get('digests') or ())

    # a tab following one run is not woken by every other run's output
    queue = services.bus.subscribe(lambda event: wanted(event) or revokes_this_stream(event))

    async def stream() -> AsyncIterator[str]:
        try:
            yield ': connected\n\n'
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=KEEPALIVE_SECONDS)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ': keep-alive\n\n'
                    continue
                if revokes_this_stream(event) or event.get('type') in ENDS_THE_STREAM:
                    return  # its token was revoked (a reconnect gets 401), the server stops, or its listener lost Redis
                yield frame_of(event)
        finally:
            services.bus.unsubscribe(queue)

    return StreamingResponse(
        stream(), media_type='text/event-stream', headers={'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no'}
    )
