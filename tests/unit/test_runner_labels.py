"""Table tests: runner labels, the queues they route to, a worker's state, and why a queued run waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.config import Settings
from app.models.labels import normalise_labels
from app.services.execution.queue_reason import WorkerCapacity, waiting_reason
from app.services.execution.routing import DEFAULT_NAMESPACE, QUEUE, can_serve, queue_for, queues_served
from app.services.execution.workers import worker_state

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ('given', 'labels'),
    [
        ([], []),
        (['gpu'], ['gpu']),
        (['linux', 'GPU', 'gpu', ' '], ['gpu', 'linux']),  # sorted, distinct, lower-cased, blanks dropped
        (['arm64', 'x86_64', 'py3.11'], ['arm64', 'py3.11', 'x86_64']),
    ],
)
def test_labels_are_normalised(given: list[str], labels: list[str]) -> None:
    assert normalise_labels(given) == labels


@pytest.mark.parametrize(
    ('given', 'message'),
    [
        (['gpu!'], "label 'gpu!' must be"),
        (['-gpu'], "label '-gpu' must be"),
        (['a' * 41], 'must be 1-40 characters'),
        ([f'l{n}' for n in range(7)], 'at most 6 labels'),
    ],
)
def test_bad_labels_are_refused_with_the_reason(given: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalise_labels(given)


@pytest.mark.parametrize(
    ('runs_on', 'queue'),
    [
        ([], QUEUE),
        (['gpu'], f'{QUEUE}.gpu'),
        (['linux', 'gpu'], f'{QUEUE}.gpu+linux'),
        (['gpu', 'gpu'], f'{QUEUE}.gpu'),
    ],
)
def test_a_run_goes_to_the_queue_of_its_label_set(runs_on: list[str], queue: str) -> None:
    assert queue_for(runs_on) == queue


def test_a_worker_consumes_the_queue_of_every_label_set_it_holds() -> None:
    assert queues_served([]) == [QUEUE]
    served = queues_served(['linux', 'gpu'])
    assert sorted(served) == sorted([QUEUE, f'{QUEUE}.gpu', f'{QUEUE}.linux', f'{QUEUE}.gpu+linux'])
    for runs_on in ([], ['gpu'], ['linux'], ['gpu', 'linux']):  # each run it can serve lands in one of them
        assert queue_for(runs_on) in served
    assert queue_for(['gpu', 'arm64']) not in served


def test_deployments_sharing_a_broker_have_their_own_queues() -> None:
    """Another redis_prefix, other queue names: one deployment's workers never take another's runs."""
    assert queue_for([]) == QUEUE and queues_served([]) == [QUEUE]  # the default keeps its names
    assert queue_for([], 'team-b') == 'team-b.runs'
    assert queue_for(['gpu'], 'team-b') == 'team-b.runs.gpu'
    served = queues_served(['gpu'], 'team-b')
    assert sorted(served) == ['team-b.runs', 'team-b.runs.gpu']
    assert not set(served) & set(queues_served(['gpu']))
    assert Settings.model_fields['redis_prefix'].default == DEFAULT_NAMESPACE  # the default keeps the old names


@pytest.mark.parametrize(
    ('worker', 'runs_on', 'serves'),
    [
        ([], [], True),
        (['gpu'], [], True),
        ([], ['gpu'], False),
        (['gpu', 'linux'], ['gpu'], True),
        (['gpu'], ['gpu', 'linux'], False),  # must hold all of them
    ],
)
def test_a_worker_serves_a_run_only_when_it_holds_all_its_labels(
    worker: list[str], runs_on: list[str], serves: bool
) -> None:
    assert can_serve(worker, runs_on) is serves


@pytest.mark.parametrize(
    ('silent_for', 'stopped', 'draining', 'state'),
    [
        (0, False, False, 'live'),
        (14.9, False, False, 'live'),  # heartbeat 5 s: lost only after three missed beats
        (15.1, False, False, 'lost'),
        (1, False, True, 'draining'),
        (100, False, True, 'lost'),  # a lost worker is lost, drained or not
        (1, True, False, 'stopped'),
    ],
)
def test_worker_state(silent_for: float, stopped: bool, draining: bool, state: str) -> None:
    assert (
        worker_state(
            heartbeat_at=NOW - timedelta(seconds=silent_for),
            stopped_at=NOW if stopped else None,
            draining=draining,
            now=NOW,
            heartbeat_seconds=5.0,
        )
        == state
    )


GPU = WorkerCapacity(labels=('gpu', 'linux'), slots=2, busy=0, live=True, draining=False)
PLAIN = WorkerCapacity(labels=(), slots=4, busy=4, live=True, draining=False)


@pytest.mark.parametrize(
    ('executor', 'runs_on', 'workers', 'running', 'cap', 'reason'),
    [
        ('local', [], [], 4, 4, 'waiting for a free run slot (4 of 4 running)'),
        ('local', [], [], 1, 4, 'starting'),
        ('celery', [], [], 0, 4, 'waiting for a worker (none is up)'),
        ('celery', ['gpu'], [PLAIN], 0, 4, 'waiting for a worker with labels gpu'),
        ('celery', ['gpu'], [GPU, PLAIN], 0, 4, 'handed to 1 worker with labels gpu, not taken yet'),
        ('celery', [], [PLAIN], 4, 4, 'waiting for a free slot: 4 of 4 busy on 1 worker'),
        ('celery', [], [GPU, PLAIN], 4, 4, 'handed to 2 workers, not taken yet'),
        (
            'celery',
            ['gpu'],
            [WorkerCapacity(labels=('gpu',), slots=2, busy=0, live=True, draining=True)],
            0,
            4,
            'waiting for a worker with labels gpu: every one that could take it is draining',
        ),
        (
            'celery',
            ['gpu'],
            [WorkerCapacity(labels=('gpu',), slots=2, busy=0, live=False, draining=False)],
            0,
            4,
            'waiting for a worker with labels gpu',
        ),  # a lost gpu worker serves nothing
        (
            'celery',
            ['gpu', 'linux'],
            [WorkerCapacity(labels=('gpu', 'linux'), slots=2, busy=2, live=True, draining=False)],
            2,
            4,
            'waiting for a free slot: 2 of 2 busy on 1 worker with labels gpu, linux',
        ),
    ],
)
def test_why_a_queued_run_waits(
    executor: str, runs_on: list[str], workers: list[WorkerCapacity], running: int, cap: int, reason: str
) -> None:
    assert (
        waiting_reason(executor=executor, runs_on=runs_on, workers=workers, running=running, global_cap=cap) == reason
    )
