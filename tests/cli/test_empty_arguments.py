"""An id given empty, as a script gives it when the shell variable meant to hold it is unset or `jq -r .id` printed
nothing (`runboard runs logs "$RUN"`): exit 2 saying so, before anything is sent. Sent, it named another endpoint
(`GET /runs/` is the list's, redirected): a Python traceback, a "Not Found" of no thing, or the whole list of runs
for `runs list -p ""`."""

from __future__ import annotations

import pytest
import typer

from app.cli.context import given_id
from tests.helpers.cli import served


@pytest.mark.parametrize('value', [None, 'run_01', 'proj', ['run_01', 'run_02'], [], 0])
def test_a_given_id_is_taken_as_it_is(value: object) -> None:
    assert given_id(value) == value


@pytest.mark.parametrize('value', ['', ' ', '\n', ['run_01', ''], ['']])
def test_an_empty_id_is_a_usage_error(value: object) -> None:
    with pytest.raises(typer.BadParameter, match='is empty: is the shell variable that should hold it set'):
        given_id(value)


EMPTY_IDS = [
    ('runs', 'show', ''),
    ('runs', 'logs', ''),
    ('runs', 'logs', ' ', '--raw'),
    ('runs', 'stop', ''),
    ('runs', 'retry', ''),
    ('runs', 'artifacts', ''),
    ('runs', 'batch', ''),
    ('runs', 'approve', 'run_x', ''),
    ('runs', 'list', '-p', ''),
    ('runs', 'list', '--cursor', ''),
    ('runs', 'trigger', 'proj', '--like', ''),
    ('projects', 'show', ''),
    ('projects', 'edit', '', '--name', 'x'),
    ('issues', 'edit', '', '1', '--title', 'x'),
    ('schedules', 'history', ''),
    ('notifications', 'list', ''),
    ('notifications', 'edit', 'proj', '', '--name', 'x'),
    ('notifications', 'deliveries', 'show', ''),
    ('notifications', 'deliveries', 'proj', '--rule', ''),
    ('variables', 'set', 'REGION', 'eu', '-p', ''),
    ('secrets', 'remove', '', '-p', 'proj'),
    ('tokens', 'revoke', ''),
    ('workers', 'drain', ''),
    ('audit', '--cursor', ''),
]


def test_an_empty_id_is_exit_2_before_anything_is_sent(settings_factory, repo_factory) -> None:  # noqa: ANN001
    with served(settings_factory, repo_factory) as (_server, cli):
        for args in EMPTY_IDS:
            empty = cli(*args, '--json')
            said = ' '.join(empty.stderr.replace('│', ' ').split())
            assert empty.code == 2, (args, empty.stdout, said)
            assert 'is empty: is the shell variable that should hold it set?' in said, (args, said)
            assert empty.stdout == '', args
        assert cli('runs', 'list', '-p', 'proj', '--json').code == 0
