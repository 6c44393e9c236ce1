"""What the servers and workers of a deployment must share, as tables (services/execution/deployment_checks.py): a
worker refuses to start without the server's secret key in team mode; a worker, and a server whose runs execute on
workers, warn when the artifacts stay in a data dir of their own, and a server when its key is in its data dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.infra.secret_box import REPLACED_KEY_ADVICE, SecretBox, SecretUnreadable
from app.services.execution.deployment_checks import (
    WORKER_KEY_ADVICE,
    artifact_store_warning,
    key_configured,
    server_key_warning,
    worker_key_refusal,
)

OWN = Path('/srv/runboard/artifacts')


@pytest.mark.parametrize(
    ('on_worker', 'executor', 'store', 'warned'),
    [
        (False, 'local', None, False),  # the server runs its runs and reads its own folder
        (False, 'celery', None, True),  # the workers keep them where this server does not read
        (False, 'celery', 's3://bucket/artifacts', False),
        (True, 'celery', None, True),  # a worker's own data dir: no server reads it (unless they share it)
        (True, 'local', None, True),  # a worker is a worker whatever its RUNBOARD_EXECUTOR says
        (True, 'celery', '/shared/artifacts', False),
    ],
)
def test_artifacts_kept_where_the_servers_do_not_read_are_warned_of(
    on_worker: bool, executor: str, store: str | None, warned: bool
) -> None:
    warning = artifact_store_warning(on_worker=on_worker, executor=executor, artifact_store=store, artifacts_dir=OWN)
    assert (warning is not None) == warned
    if warning:
        assert 'RUNBOARD_ARTIFACT_STORE' in warning and 'docs/artifacts.md' in warning and str(OWN) in warning


@pytest.mark.parametrize(
    ('team_mode', 'configured', 'file_exists', 'refused'),
    [
        (True, False, False, True),  # it would make a key of its own, which decrypts nothing the server stored
        (True, True, False, False),  # RUNBOARD_SECRET_KEY
        (True, False, True, False),  # a key file given to it (or the server's own data dir)
        (False, False, False, False),  # SQLite beside the server: the data dir, and its key file, are the server's
    ],
)
def test_a_worker_in_team_mode_refuses_to_make_a_key_of_its_own(
    team_mode: bool, configured: bool, file_exists: bool, refused: bool
) -> None:
    key_file = Path('/srv/worker/secret.key')
    refusal = worker_key_refusal(
        team_mode=team_mode, key_configured=configured, key_file=key_file, key_file_exists=file_exists
    )
    assert (refusal is not None) == refused
    if refusal:
        assert 'RUNBOARD_SECRET_KEY' in refusal and str(key_file) in refusal and 'docs/team.md' in refusal


@pytest.mark.parametrize(
    ('executor', 'configured', 'warned'),
    [('celery', False, True), ('celery', True, False), ('local', False, False), ('local', True, False)],
)
def test_a_server_whose_runs_execute_on_workers_warns_of_a_key_only_it_has(
    executor: str, configured: bool, warned: bool
) -> None:
    warning = server_key_warning(executor=executor, key_configured=configured, key_file=Path('/srv/data/secret.key'))
    assert (warning is not None) == warned
    if warning:
        assert 'RUNBOARD_SECRET_KEY' in warning and '/srv/data/secret.key' in warning


@pytest.mark.parametrize(('setting', 'configured'), [(None, False), ('', False), ('  \n', False), ('k1,k2', True)])
def test_a_blank_key_setting_is_no_key(setting: str | None, configured: bool) -> None:
    assert key_configured(setting) is configured


def test_a_workers_undecryptable_secret_says_the_key_is_not_the_servers() -> None:
    server = SecretBox.from_settings(Path('/nonexistent'), SecretBox.generate_key())
    token = server.encrypt('hunter2')
    worker = SecretBox.from_settings(Path('/nonexistent'), SecretBox.generate_key(), advice=WORKER_KEY_ADVICE)
    with pytest.raises(SecretUnreadable) as worker_said:
        worker.decrypt(token)
    assert "this worker's secret key is not the one the server encrypted it with" in str(worker_said.value)
    assert 'RUNBOARD_SECRET_KEY' in str(worker_said.value) and 'does not help' in str(worker_said.value)
    elsewhere = SecretBox.from_settings(Path('/nonexistent'), SecretBox.generate_key())
    with pytest.raises(SecretUnreadable) as server_said:
        elsewhere.decrypt(token)
    assert str(server_said.value).endswith(REPLACED_KEY_ADVICE)  # a server: the key was replaced
