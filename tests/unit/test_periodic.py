"""The periodic-job base every sweep uses (services/scheduling/periodic.py): a wake runs the job now, a wake during a
pass buys exactly one more pass, a pass may ask to run again sooner than its tick, and a failing pass leaves the job
running for the next tick."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

from app.infra.events import EventBus
from app.services.scheduling.periodic import OnePerKey, PeriodicJob, PeriodicJobs


async def _until(condition, seconds: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, 'timed out'
        await asyncio.sleep(0.01)


def test_a_wake_runs_the_job_now_and_a_wake_during_a_pass_buys_one_more() -> None:
    passes: list[float] = []
    release = threading.Event()

    def work() -> None:
        passes.append(time.monotonic())
        if len(passes) == 2:
            release.wait(5)  # the second pass is slow: wakes arrive during it

    async def scenario() -> None:
        job = PeriodicJob('sweep', 3600, work)
        jobs = PeriodicJobs(EventBus(), [job])
        jobs.start()
        try:
            job.wake()
            await _until(lambda: len(passes) == 1)
            job.wake()  # from a thread, like a run's end in the API's threadpool
            await _until(lambda: len(passes) == 2)
            for _ in range(3):
                await asyncio.to_thread(job.wake)
            release.set()
            await _until(lambda: len(passes) == 3)
            await asyncio.sleep(0.3)
            assert len(passes) == 3  # three wakes in one pass: one more pass, not three
        finally:
            jobs.stop()

    asyncio.run(scenario())


def test_a_pass_that_asks_to_run_again_soon_runs_again_then() -> None:
    passes: list[float] = []

    def work() -> timedelta | None:
        passes.append(time.monotonic())
        return timedelta(seconds=0.2) if len(passes) == 1 else None

    async def scenario() -> None:
        jobs = PeriodicJobs(EventBus(), [PeriodicJob('delayed', 3600, work, at_start=True)])
        jobs.start()
        try:
            await _until(lambda: len(passes) == 2)
            assert passes[1] - passes[0] >= 0.19
        finally:
            jobs.stop()

    asyncio.run(scenario())


def test_a_failing_pass_is_logged_and_the_job_runs_on(caplog) -> None:  # noqa: ANN001
    calls: list[int] = []

    async def work() -> None:
        calls.append(1)
        raise RuntimeError('boom')

    async def scenario() -> None:
        job = PeriodicJob('flaky', 0.1, work, at_start=True)
        jobs = PeriodicJobs(EventBus(), [job])
        jobs.start()
        try:
            await _until(lambda: len(calls) >= 2)
            assert jobs.running
        finally:
            jobs.stop()
        await asyncio.sleep(0.05)  # AsyncIOScheduler shuts down on its loop
        assert not jobs.running

    asyncio.run(scenario())
    assert 'the flaky job failed; the next tick tries again' in caplog.text


def test_bus_events_the_job_waits_for_wake_it() -> None:
    passes: list[int] = []
    bus = EventBus()

    async def scenario() -> None:
        job = PeriodicJob('sender', 3600, lambda: passes.append(1), wakes_on=lambda e: e.get('type') == 'run')
        await bus.start()
        jobs = PeriodicJobs(bus, [job])
        jobs.start()
        try:
            bus.publish({'type': 'project'})
            await asyncio.sleep(0.2)
            assert passes == []
            bus.publish({'type': 'run'})
            await _until(lambda: passes == [1])
        finally:
            jobs.stop()

    asyncio.run(scenario())


def test_a_stream_of_wakes_costs_a_pass_per_settle_and_a_lone_wake_still_runs_at_once() -> None:
    passes: list[float] = []

    async def scenario() -> None:
        job = PeriodicJob('afk-sweep', 3600, lambda: passes.append(time.monotonic()), settle=0.2)
        jobs = PeriodicJobs(EventBus(), [job])
        jobs.start()
        try:
            woken = time.monotonic()
            job.wake()
            await _until(lambda: len(passes) == 1)
            assert passes[0] - woken < 0.15  # after a quiet moment: at once, not a settle later
            streaming_until = time.monotonic() + 1.0
            while time.monotonic() < streaming_until:  # a drain's run ends: 100 wakes a second for a second
                job.wake()
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.5)
            during = [at for at in passes[1:] if at <= streaming_until + 0.3]
            assert 3 <= len(during) <= 8  # about one pass per 0.2 s, not one per wake
            assert passes[-1] >= streaming_until - 0.05  # the last wakes were answered by a pass after them
        finally:
            jobs.stop()

    asyncio.run(scenario())


def test_one_per_key_runs_a_keys_task_once_at_a_time_and_a_stuck_key_holds_only_itself() -> None:
    stuck = threading.Event()
    ran: list[str] = []
    woken: list[str] = []
    pool = OnePerKey('test', 2, after=lambda: woken.append('woken'))

    def task(name: str, *, wait: bool = False, look_again: bool = False):  # noqa: ANN202
        def run() -> bool:
            if wait:
                stuck.wait(5)
            ran.append(name)
            return look_again

        return run

    try:
        assert pool.submit('slow', task('slow', wait=True)) is True
        assert pool.submit('slow', task('slow twice')) is False  # its task still runs: left to a later pass
        assert pool.submit('quick', task('quick', look_again=True)) is True
        _wait_until(lambda: pool.busy() == {'slow'})  # the quick key is done while the slow one is stuck
        assert ran == ['quick']
        _wait_until(lambda: woken == ['woken'])  # it asked for another look, once its key was free
        assert pool.submit('third', task('third', wait=True)) is True
        assert pool.submit('fourth', task('fourth')) is False  # every thread busy: nothing queues behind them
        stuck.set()
        _wait_until(lambda: pool.busy() == set())
        assert sorted(ran) == ['quick', 'slow', 'third'] and woken == ['woken']
        assert pool.submit('slow', task('slow again')) is True
        _wait_until(lambda: 'slow again' in ran)
    finally:
        pool.shutdown()


def test_a_failing_task_frees_its_key_and_asks_for_no_extra_look() -> None:
    woken: list[bool] = []
    pool = OnePerKey('test', 1, after=lambda: woken.append(True))
    try:

        def fail() -> bool:
            raise RuntimeError('the remote broke')

        assert pool.submit('p', fail) is True
        _wait_until(lambda: pool.busy() == set())
        assert woken == []
        assert pool.submit('p', lambda: True) is True
        _wait_until(lambda: woken == [True])
    finally:
        pool.shutdown()


def _wait_until(condition, seconds: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, 'timed out'
        time.sleep(0.01)


def test_a_wake_the_loop_answers_late_still_runs_the_job() -> None:
    """Under load the event loop may reach a woken job seconds after its time; APScheduler's default (a run more than
    1 s late is skipped as missed) left a kicked sweep to its next tick, 45 s later for the AFK loop."""
    passes: list[float] = []

    async def scenario() -> None:
        job = PeriodicJob('sweep', 3600, lambda: passes.append(time.monotonic()))
        jobs = PeriodicJobs(EventBus(), [job])
        jobs.start()
        try:
            job.wake()
            time.sleep(1.5)  # the loop is busy elsewhere (blocked) past the default grace
            await _until(lambda: len(passes) == 1)
        finally:
            jobs.stop()

    asyncio.run(scenario())
