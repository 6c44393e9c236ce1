"""One Settings object for the whole process (env prefix RUNBOARD_)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import ByteSize, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path.home() / '.local' / 'share' / 'runboard'


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix='RUNBOARD_', extra='ignore')

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None  # default: SQLite file in data_dir (WAL)
    redis_url: str | None = None  # unset: in-process rate limiter and event bus
    redis_prefix: str = 'runboard'
    # TLS (a rediss:// URL): the CA that signed Redis's certificate (default: the system's), and a client certificate
    # and key when Redis asks for one; added to the rediss:// URLs as redis-py's ssl_* options (infra/redis.py)
    redis_ca_file: str | None = None
    redis_cert_file: str | None = None
    redis_key_file: str | None = None
    host: str = '127.0.0.1'
    port: int = 8080
    server: str | None = None  # the UI talks to this API instead of its own (e.g. a team server)
    token: str | None = None  # API token for the UI/CLI; local mode reads it from the data dir
    ui_sign_in: bool = False  # every browser signs in with its own API token (always so in team mode)
    allowed_hosts: str = ''  # comma-separated Host names answered besides loopback (app/api/hosts.py)
    open_browser: bool = False  # open the start link in the desktop's browser once ready (scripts/start.sh)

    global_run_cap: int = 4  # runs executing at once on this deployment; more wait queued (FIFO)
    run_budget_seconds: int = 2 * 60 * 60
    heartbeat_seconds: float = 5.0
    kill_grace_seconds: float = 5.0
    reaper_poll_seconds: float = 30.0
    max_output_lines: int = 500_000
    max_line_chars: int = 4000
    worktree_retention_days: float = 7.0
    # workers (executor=celery) stopped, or lost, for longer than this leave the Workers list (one that still owns a
    # running run stays; services/execution/workers.py); 0: kept for ever
    worker_retention_days: float = Field(default=14.0, ge=0)
    # artifacts (docs/artifacts.md): what runs leave in $RUNBOARD_ARTIFACTS_DIR, kept through fsspec
    artifact_store: str | None = None  # a path or an fsspec URL (s3://bucket/prefix); unset: data_dir/artifacts
    artifact_store_options: str = ''  # JSON keyword arguments of the filesystem, e.g. {"endpoint_url": "http://..."}
    max_artifact_bytes: int = Field(default=1024**3, ge=0)  # per run; a file past it is refused, the others kept
    artifact_retention_days: float = 30.0  # kept artifacts older than this leave the store and the table; 0: never
    # the output of runs that ended longer ago leaves the database (the run, its status, stages, annotations and
    # tests stay; services/runs/log_retention.py); 0: kept for ever
    log_retention_days: float = Field(default=0.0, ge=0)
    # a project's run cache on one machine past this when its last run ends is emptied (the next run refills it)
    cache_max_bytes: int = Field(default=5 * 1024**3, ge=0)  # 0: no limit
    # the run sandbox (docs/security.md): auto = bubblewrap when it works here, else local mode runs unsandboxed
    # with a warning and team mode refuses to run; on = refuse without it; off = never (the operator's risk)
    sandbox: Literal['auto', 'on', 'off'] = 'auto'
    sandbox_read_only_paths: str = ''  # comma-separated paths runs also see read-only (e.g. a toolchain in /srv)
    # per-run limits (docs/security.md, services/execution/limits.py): each run in a cgroup of its own. auto = where
    # this process can make cgroups, else runs start unbounded (said in /api/about); on = refuse runs where it cannot;
    # off = never
    run_limits: Literal['auto', 'on', 'off'] = 'auto'
    run_memory_max: ByteSize | None = None  # RAM and swap of all of a run's processes together, e.g. 4GiB; 0: none
    run_processes_max: int = Field(default=4096, ge=0)  # a run's processes at once (a fork bomb stops there); 0: none
    run_cpus: float | None = Field(default=None, ge=0.01)  # CPU time as this many cores (1.5 = one and a half)
    # the most a project may set as its runs' memory limit (its run_memory_max), and as its CPUs (its run_cpus); unset:
    # a project may only lower RUNBOARD_RUN_MEMORY_MAX, RUNBOARD_RUN_CPUS (or set any, where that is unset)
    run_memory_max_allowed: ByteSize | None = None
    run_cpus_allowed: float | None = Field(default=None, ge=0.01)

    rate_limit_runs: int = 20
    rate_limit_window_seconds: int = 600
    # failed token checks a client address may make a minute before its unknown tokens get 429 (0: no limit);
    # services/identity/failed_sign_ins.py
    failed_sign_ins_per_minute: int = Field(default=30, ge=0)
    idempotency_ttl_seconds: int = 24 * 60 * 60
    max_body_bytes: int = 64 * 1024

    afk_sweep_seconds: float = 45.0
    # schedules, delayed runs and queued TTL (services/scheduling/timers.py, docs/triggers.md)
    schedule_sweep_seconds: float = 2.0  # how often each server looks for due schedule slots
    schedule_grace_seconds: float = 60.0  # a slot found later than this was missed (catch-up policy decides)
    delayed_sweep_seconds: float = 0.5  # how often each server admits due delayed runs and expires queued ones

    # executor: 'local' runs each run as a child of this server; 'celery' hands runs to `runboard worker`s
    executor: Literal['local', 'celery'] = 'local'
    broker_url: str | None = None  # Celery broker (default: redis_url); RabbitMQ (amqp://) works too
    dispatch_again_seconds: float = 30.0  # a queued run not claimed this long after its publish is re-published

    # remote repositories (services/repositories/access.py)
    secret_key: str | None = None  # Fernet key(s), comma-separated, first encrypts; unset: data_dir/secret.key
    mirror_fetch_seconds: float = 60.0  # each remote project's mirror is fetched this often (jittered)
    # a project on a path of this server with push rules: its branches looked at this often (a stat of its ref
    # directories), a scan only when they changed; 0: only with the mirror fetch's interval
    push_scan_local_seconds: float = 2.0
    mirror_refresh_min_seconds: float = 10.0  # opening the Run form / "refresh" fetch at most this often
    unknown_branch_fetch_seconds: float = 10.0  # a trigger naming an unknown branch fetches at most this often
    # a trigger of a remote's branch fetches its mirror first (unless a fetch is 2 s old) and waits this long for it,
    # else reads the mirror as it is; 0: triggers read the mirror as last fetched
    trigger_fetch_wait_seconds: float = 5.0
    git_timeout_seconds: float = 120.0
    # team mode: projects on a server path or file:// URL (they read this server's disk); docs/security.md
    allow_local_repositories: bool = False
    demo: bool = True  # create the demo project on first start (where the local account is made: it is its team's)
    # the bootstrap administrator `local`, its token in data_dir/credentials.json, made at start when missing or
    # revoked; unset: in local mode only (a team server's first administrator is `runboard users add --admin`)
    local_account: bool | None = None

    # notifications (signed webhooks; docs/notifications.md)
    public_url: str | None = None  # where people open Runboard (links in notifications); default http://host:port
    notification_timeout_seconds: float = 10.0  # one attempt's whole POST, connect to last byte
    notification_max_attempts: int = Field(default=6, ge=1, le=50)  # per round; a Redeliver starts a new round
    notification_backoff_seconds: list[Annotated[float, Field(ge=0)]] = Field(  # JSON list; the last step repeats
        default_factory=lambda: [10.0, 30.0, 120.0, 600.0, 3600.0], min_length=1
    )
    notification_poll_seconds: float = 5.0  # due retries are looked for at least this often
    # where webhooks may go (notifications/webhook_policy.py, docs/security.md): a comma list of external, private,
    # loopback, *, CIDRs and host names (globs); blank: team mode `external`, local mode external,private,loopback
    webhook_allowed_hosts: str = ''
    # an egress HTTP proxy (http://host:port) for webhooks and forge API requests; unset: they connect themselves
    outbound_proxy: str | None = None

    @model_validator(mode='after')
    def _redis_tls_in_the_urls(self) -> Self:
        """The TLS files go into the rediss:// URLs (the Redis's, a Redis broker's), so whatever is handed the URL
        (redis-py, kombu, a worker's environment) connects the same way."""
        files = {
            'ssl_ca_certs': self.redis_ca_file,
            'ssl_certfile': self.redis_cert_file,
            'ssl_keyfile': self.redis_key_file,
        }
        options = {name: value for name, value in files.items() if value}
        if not options:
            return self
        urls = [url for url in (self.redis_url, self.broker_url) if url and url.startswith('rediss://')]
        if not urls:
            raise ValueError('RUNBOARD_REDIS_CA_FILE, _CERT_FILE and _KEY_FILE need a rediss:// (TLS) Redis URL')
        self.redis_url = with_query_options(self.redis_url, options)
        self.broker_url = with_query_options(self.broker_url, options)
        return self

    def private_data_dir(self) -> Path:
        """The data dir, made (or set, when this user owns it) 0700: the database, the keys, every team's mirrors and
        checkouts are its owner's alone (docs/security.md)."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.data_dir.stat().st_uid == os.geteuid():
            self.data_dir.chmod(0o700)
        return self.data_dir

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / 'runboard.db'

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f'sqlite:///{self.sqlite_path}'

    @property
    def is_team_mode(self) -> bool:
        return bool(self.redis_url) or not self.effective_database_url.startswith('sqlite')

    @property
    def makes_local_account(self) -> bool:
        return self.local_account if self.local_account is not None else not self.is_team_mode

    @property
    def ui_requires_sign_in(self) -> bool:
        """Each browser signs in with its own token: team mode, an explicit RUNBOARD_UI_SIGN_IN, or a UI-only
        process (--server) that was given no RUNBOARD_TOKEN. Otherwise the UI acts with one token, login-free."""
        if self.server is not None:
            return self.ui_sign_in or not self.token
        return self.ui_sign_in or self.is_team_mode

    @property
    def effective_public_url(self) -> str:
        host = '127.0.0.1' if self.host in ('0.0.0.0', '::', '') else self.host  # a wildcard is no address
        host = f'[{host}]' if ':' in host else host
        return (self.public_url or f'http://{host}:{self.port}').rstrip('/')

    @property
    def ui_secret_path(self) -> Path:
        return self.data_dir / 'ui-secret'

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / 'credentials.json'

    @property
    def mirrors_dir(self) -> Path:
        return self.data_dir / 'mirrors'

    @property
    def worktrees_dir(self) -> Path:
        return self.data_dir / 'worktrees'

    @property
    def caches_dir(self) -> Path:
        """The run caches of the projects this machine runs ($RUNBOARD_CACHE_DIR; services/execution/caches.py)."""
        return self.data_dir / 'caches'

    @property
    def artifact_staging_dir(self) -> Path:
        """Each running run's $RUNBOARD_ARTIFACTS_DIR, on the machine that executes it, until its files are kept."""
        return self.data_dir / 'artifact-uploads'


def with_query_options(url: str | None, options: dict[str, str]) -> str | None:
    """A rediss:// URL with `options` added to its query, those it already has kept as they are."""
    if not url or not url.startswith('rediss://'):
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    present = {name for name, _ in query}
    added = [(name, value) for name, value in options.items() if name not in present]
    return urlunsplit(parts._replace(query=urlencode(query + added, safe='/'))) if added else url
