"""An event's SSE frame is what every stream sends for it: written once per event, whatever the streams."""

from __future__ import annotations

import json

from app.api import events as sse


def test_a_frame_names_the_event_and_carries_it_as_json() -> None:
    event = {'type': 'run.output', 'id': 'run_1', 'last_seq': 7}
    assert sse.frame_of(event) == f'event: run.output\ndata: {json.dumps(event)}\n\n'


def test_every_stream_gets_the_one_frame_of_an_event() -> None:
    event = {'type': 'run', 'id': 'run_2'}
    assert sse.frame_of(event) is sse.frame_of(event)


def test_each_event_has_its_own_frame_also_after_many_others() -> None:
    first = {'type': 'run', 'id': 'run_3', 'status': 'running'}
    assert json.loads(sse.frame_of(first).split('data: ')[1])['status'] == 'running'
    for n in range(sse.FRAMES_KEPT + 10):  # the first event's frame is no longer kept
        sse.frame_of({'type': 'run', 'id': f'other_{n}'})
    later = {'type': 'run', 'id': 'run_3', 'status': 'succeeded'}
    assert json.loads(sse.frame_of(later).split('data: ')[1])['status'] == 'succeeded'
    assert json.loads(sse.frame_of(first).split('data: ')[1])['status'] == 'running'
