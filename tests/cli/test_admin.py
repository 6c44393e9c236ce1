"""`runboard db upgrade` on both backends, and `runboard serve` as a person starts it, with the CLI then
finding the server's token in the data directory (no RUNBOARD_TOKEN)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text

from app.cli.main import app
from tests.helpers.cli import CliRunner
from tests.helpers.servers import ROOT, clean_env, free_port


@pytest.mark.fresh_database  # it migrates an empty database
def test_db_upgrade_applies_the_migrations(settings_factory) -> None:
    settings = settings_factory()
    args = ['db', 'upgrade', '--data-dir', str(settings.data_dir)]
    if settings.database_url:
        args += ['--database-url', settings.database_url]
    for _ in range(2):  # the second run finds nothing to do
        result = CliRunner().invoke(app, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert 'is at revision ' in result.stdout
    engine = create_engine(settings.effective_database_url)
    try:
        assert {'run', 'runevent', 'project', 'idempotencykey'} <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            revision = conn.execute(text('SELECT version_num FROM alembic_version')).scalar_one()
        assert result.stdout.strip().endswith(f'revision {revision}.')
        as_json = CliRunner().invoke(app, [*args, '--json'], catch_exceptions=False)
        assert as_json.exit_code == 0 and json.loads(as_json.stdout)['revision'] == revision
    finally:
        engine.dispose()


def cli_process(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, '-m', 'app.cli', *args],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_then_cli_uses_the_token_local_mode_wrote(tmp_path) -> None:
    port, data_dir = free_port(), tmp_path / 'data'
    server = subprocess.Popen(
        [sys.executable, '-m', 'app.cli', 'serve', '--port', str(port), '--data-dir', str(data_dir)],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f'http://127.0.0.1:{port}'
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + '/api/health', timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, 'runboard serve did not start'
            time.sleep(0.2)
        env = {'RUNBOARD_SERVER': url, 'RUNBOARD_DATA_DIR': str(data_dir)}
        projects = cli_process('projects', 'list', '--json', env=env)
        assert projects.returncode == 0, projects.stderr
        assert [p['id'] for p in json.loads(projects.stdout)] == ['demo']
        refused = cli_process('projects', 'list', env={**env, 'RUNBOARD_TOKEN': 'wrong'})
        assert refused.returncode == 4 and 'Correlation id: ' in refused.stderr
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
