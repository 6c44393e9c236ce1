"""The one line a failed start-up says, and which started parts are not ready (core/startup.py)."""

from __future__ import annotations

import pytest

from app.core.startup import StartupFailed, failure_line, not_ready, remote_is_itself, settings_line, step


class DriverError(Exception):
    pass


class Wrapped(Exception):  # as SQLAlchemy wraps a driver's error: the driver's is in .orig
    def __init__(self, orig: Exception) -> None:
        super().__init__(f'(wrapped) {orig}\n[SQL: SELECT 1]')
        self.orig = orig


@pytest.mark.parametrize(
    ('step_name', 'cause', 'line'),
    [
        # the step, the error's type and its message
        ('the scheduler', RuntimeError('no loop'), 'the scheduler failed: RuntimeError: no loop'),
        # a message over several lines: its first line only
        ('the demo project', ValueError('bad\nsecond line\nthird'), 'the demo project failed: ValueError: bad'),
        # leading blank lines are no message
        ('the run engine', ValueError('\n\n  late start\n'), 'the run engine failed: ValueError: late start'),
        # no message at all: the type says what happened
        ('the event listener', ConnectionError(), 'the event listener failed: ConnectionError'),
        # a driver's error wrapped by SQLAlchemy: the driver's own words, not the SQL
        (
            'the local account',
            Wrapped(DriverError('duplicate key value violates unique constraint "team_pkey"')),
            'the local account failed: DriverError: duplicate key value violates unique constraint "team_pkey"',
        ),
        # a URL with a password in the message: the password masked, the user kept
        (
            'the rate limiter',
            OSError('cannot reach redis://admin:hunter2@10.0.0.5:6379/0'),
            'the rate limiter failed: OSError: cannot reach redis://admin:***@10.0.0.5:6379/0',
        ),
        (
            'the event bus',
            OSError('redis://:hunter2@r:6379 and postgresql+psycopg://u:pw@db/x'),
            'the event bus failed: OSError: redis://:***@r:6379 and postgresql+psycopg://u:***@db/x',
        ),
        # a URL without a password stays as it is
        ('the database', OSError('at postgresql://u@db/x'), 'the database failed: OSError: at postgresql://u@db/x'),
    ],
)
def test_failure_line(step_name: str, cause: BaseException, line: str) -> None:
    assert failure_line(step_name, cause) == line


def test_failure_line_is_bounded() -> None:
    line = failure_line('the scheduler', ValueError('x' * 1000))
    assert len(line) == 300 and line.startswith('the scheduler failed: ValueError: xxx')


@pytest.mark.parametrize(
    ('checks', 'down'),
    [
        # every part answers: ready
        ({'database': None, 'redis': None, 'event_listener': None, 'scheduler': None}, []),
        # one part down: named
        ({'database': None, 'redis': 'ConnectionError', 'scheduler': None}, ['redis']),
        # several down: in the order checked (the first is the problem's `dependency`)
        ({'database': 'OperationalError', 'event_listener': 'stopped', 'scheduler': 'not running'},
         ['database', 'event_listener', 'scheduler']),
        # an empty reason is still a reason (only None means ready)
        ({'scheduler': ''}, ['scheduler']),
        ({}, []),
    ],
)  # fmt: skip
def test_not_ready(checks: dict[str, str | None], down: list[str]) -> None:
    assert not_ready(checks) == down


@pytest.mark.parametrize(
    ('errors', 'line'),
    [
        # one refused variable, named as a person sets it
        (
            [{'loc': ('executor',), 'msg': "Input should be 'local' or 'celery'"}],
            "invalid settings: RUNBOARD_EXECUTOR: Input should be 'local' or 'celery'",
        ),
        # several: each named, in pydantic's order; a message over lines on one line
        (
            [{'loc': ('port',), 'msg': 'Input should be\n a valid integer'}, {'loc': ('demo',), 'msg': 'bad'}],
            'invalid settings: RUNBOARD_PORT: Input should be a valid integer; RUNBOARD_DEMO: bad',
        ),
        # a model-level error has no variable
        ([{'loc': (), 'msg': 'Value error, redis_url is required'}], 'invalid settings: the settings: Value error, '
         'redis_url is required'),
    ],
)  # fmt: skip
def test_settings_line(errors: list[dict], line: str) -> None:
    assert settings_line(errors) == line


def test_a_step_names_what_failed_and_an_inner_step_keeps_its_name() -> None:
    with pytest.raises(StartupFailed) as failed, step('building the services'), step('the secret box'):
        raise ValueError('not a key')
    assert failed.value.line == 'the secret box failed: ValueError: not a key'
    assert isinstance(failed.value.cause, ValueError)
    with pytest.raises(StartupFailed) as outer, step('building the services'):
        raise KeyError('x')
    assert outer.value.step == 'building the services'


@pytest.mark.parametrize(
    ('server', 'host', 'port', 'itself'),
    [
        (None, '127.0.0.1', 8080, False),  # hosting the API: nothing to check
        ('http://127.0.0.1:8080', '127.0.0.1', 8080, True),
        ('http://localhost:8080/', '0.0.0.0', 8080, True),  # every address includes loopback
        ('http://[::1]:8080', '127.0.0.1', 8080, True),
        ('http://runboard.example:8080', 'runboard.example', 8080, True),
        ('http://127.0.0.1:8081', '127.0.0.1', 8080, False),  # another server on this machine
        ('https://team.example', '127.0.0.1', 443, False),  # a team server elsewhere
        ('http://127.0.0.1:notaport', '127.0.0.1', 8080, False),  # said by the client's own check, not here
    ],
)
def test_a_ui_process_pointed_at_itself(server: str | None, host: str, port: int, itself: bool) -> None:
    said = remote_is_itself(server, host=host, port=port)
    assert (said is not None) is itself
    if said:
        assert "this process's own address" in said and 'Unset RUNBOARD_SERVER' in said
