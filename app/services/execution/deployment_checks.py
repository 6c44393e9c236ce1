"""What the servers and the workers of one deployment (executor=celery) must share, and what each says at start
when it does not: the artifact store, where a worker keeps the files its runs leave and every server reads them
(docs/artifacts.md), and the secret key, with which a worker decrypts the secrets and credentials a server stored
(docs/team.md). Pure but for the last three, which read a process's Settings (and whether its key file exists); the
server and the worker log (or refuse with) what these answer."""

from __future__ import annotations

from pathlib import Path

from app.config import Settings
from app.infra.secret_box import KEY_FILE_NAME

STORE_FIX = 'set RUNBOARD_ARTIFACT_STORE to a store the servers and every worker share (docs/artifacts.md)'
KEY_FIX = "start every worker with the server's RUNBOARD_SECRET_KEY (docs/team.md)"
# the end of a worker's "a stored secret cannot be decrypted with the configured keys…": what to fix is the worker
WORKER_KEY_ADVICE = (
    f": this worker's secret key is not the one the server encrypted it with; {KEY_FIX} (setting the secret again "
    'does not help)'
)


def artifact_store_warning(
    *, on_worker: bool, executor: str, artifact_store: str | None, artifacts_dir: Path
) -> str | None:
    """Why the artifacts of runs on workers may be unreadable to the servers (None: a store is set, or runs execute
    on the server that reads them). Unset, each process keeps artifacts in its own data dir, which is right for a
    worker only when it shares the servers' data dir (one machine): a warning, not a refusal."""
    if artifact_store:
        return None
    if on_worker:
        return (
            f'RUNBOARD_ARTIFACT_STORE is unset: this worker keeps the artifacts of its runs in its own data dir '
            f'({artifacts_dir}), where no server reads them unless it is theirs too (404 artifact_missing); {STORE_FIX}'
        )
    if executor == 'celery':
        return (
            'RUNBOARD_ARTIFACT_STORE is unset while runs execute on workers (executor=celery): each worker keeps the '
            f'artifacts of its runs in its own data dir, and this server reads {artifacts_dir} '
            f'(404 artifact_missing); {STORE_FIX}'
        )
    return None


def worker_key_refusal(*, team_mode: bool, key_configured: bool, key_file: Path, key_file_exists: bool) -> str | None:
    """Why a worker must not start (None: it may): in team mode with no RUNBOARD_SECRET_KEY and no key file in its
    data dir it would make a key of its own, which decrypts nothing a server stored, and every run of a project
    with secrets or credentials would fail at launch. A key file there is taken as given (copied from the server,
    or the server's own data dir)."""
    if key_configured or key_file_exists or not team_mode:
        return None
    return (
        f'no secret key: RUNBOARD_SECRET_KEY is unset and {key_file} does not exist; a key this worker made would '
        'decrypt none of the secrets and credentials the server stored (their runs would fail at launch): '
        f'{KEY_FIX}'
    )


def server_key_warning(*, executor: str, key_configured: bool, key_file: Path) -> str | None:
    """Why the workers may not decrypt what this server stores (None: a key is configured, or runs execute here). A
    server may keep its key in its data dir; only it has that key."""
    if key_configured or executor != 'celery':
        return None
    return (
        'RUNBOARD_SECRET_KEY is unset while runs execute on workers (executor=celery): this server encrypts secrets '
        f'and credentials with the key in {key_file}, which no worker has (their runs fail at launch there); give '
        'this server and every worker the same RUNBOARD_SECRET_KEY (docs/team.md)'
    )


def key_configured(secret_key: str | None) -> bool:
    """As SecretBox.from_settings reads it: a blank setting is none (the key file is used)."""
    return bool(secret_key and secret_key.strip())


# what the server and the worker read of their Settings


def store_warning_of(settings: Settings, *, on_worker: bool) -> str | None:
    own = (settings.data_dir / 'artifacts').resolve()  # where ArtifactStore.from_settings keeps them when unset
    return artifact_store_warning(
        on_worker=on_worker, executor=settings.executor, artifact_store=settings.artifact_store, artifacts_dir=own
    )


def server_warnings(settings: Settings) -> list[str]:
    """What a server says at start about what its workers must share with it (nothing with executor=local)."""
    key = server_key_warning(
        executor=settings.executor,
        key_configured=key_configured(settings.secret_key),
        key_file=settings.data_dir / KEY_FILE_NAME,
    )
    return [warning for warning in (store_warning_of(settings, on_worker=False), key) if warning is not None]


def worker_refusal_of(settings: Settings) -> str | None:
    key_file = settings.data_dir / KEY_FILE_NAME
    return worker_key_refusal(
        team_mode=settings.is_team_mode,
        key_configured=key_configured(settings.secret_key),
        key_file=key_file,
        key_file_exists=key_file.exists(),
    )
