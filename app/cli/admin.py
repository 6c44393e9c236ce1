"""`runboard serve` and `runboard db upgrade`: the server side of the same console script."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from app.config import Settings  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)

db_app = typer.Typer(help='Database maintenance.', no_args_is_help=True)

DatabaseUrlOpt = Annotated[
    Optional[str],
    typer.Option(
        '--database-url',
        envvar='RUNBOARD_DATABASE_URL',
        show_envvar=True,
        metavar='URL',
        help='The database \\[default: the SQLite file in the data directory].',
    ),
]
DataDirOpt = Annotated[
    Optional[Path],
    typer.Option(
        '--data-dir',
        metavar='DIR',
        help='Where the database, mirrors and worktrees live '
        '\\[default: RUNBOARD_DATA_DIR or ~/.local/share/runboard].',
    ),
]


def _settings(**overrides: Any) -> Settings:
    from app.config import Settings  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)

    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def serve(
    host: Annotated[Optional[str], typer.Option('--host', help='Listen address \\[default: 127.0.0.1].')] = None,
    port: Annotated[
        Optional[int], typer.Option('--port', min=1, max=65535, help='Listen port \\[default: 8080].')
    ] = None,
    data_dir: DataDirOpt = None,
    server: Annotated[
        Optional[str],
        typer.Option(
            '--server',
            metavar='URL',
            help='Serve only the UI, using the API of this Runboard server (e.g. a team server).',
        ),
    ] = None,
    native: Annotated[bool, typer.Option('--native', help='Open in a native desktop window.')] = False,
) -> None:
    """Start Runboard: the web UI and its API on http://HOST:PORT (in a clone, `python main.py` does the same)."""
    if native and not os.environ.get('DISPLAY') and not os.environ.get('WAYLAND_DISPLAY'):
        raise typer.BadParameter(
            '--native needs a display (DISPLAY or WAYLAND_DISPLAY); run under a desktop or xvfb-run',
            param_hint='--native',
        )
    from app.server import run  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)

    run(_settings(host=host, port=port, data_dir=data_dir, server=server), native=native)


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return url


@db_app.command('upgrade')
def db_upgrade(
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    json_output: Annotated[bool, typer.Option('--json', help='Print {"database", "revision"} as JSON.')] = False,
) -> None:
    """Apply the database migrations (safe to run again; the server also applies them at start)."""
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)

    from app.infra.db import dispose, make_engine, upgrade  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)

    settings = _settings(data_dir=data_dir, database_url=database_url)
    url = settings.effective_database_url
    engine = make_engine(url, pool_size=1)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:  # noqa: BLE001 - say what failed, not a traceback
        typer.echo(f'Error: could not migrate {_redacted(url)}: {exc}', err=True)
        raise typer.Exit(5) from None
    finally:
        dispose(engine)
    if json_output:
        typer.echo(json.dumps({'database': _redacted(url), 'revision': revision}))
    else:
        typer.echo(f'Database {_redacted(url)} is at revision {revision}.')


users_app = typer.Typer(
    help='People in your teams and their API tokens: list, role, remove and revoke go through the server; add works '
    'on the database directly (server side).',
    no_args_is_help=True,
)


@users_app.command('add')
def users_add(
    name: Annotated[str, typer.Argument(help='Display name of the person.')],
    team: Annotated[
        list[str],
        typer.Option(
            '--team',
            metavar='TEAM',
            help='Team id (repeat for several). It must exist, unless --new-team, or the database has no team yet.',
        ),
    ],
    role: Annotated[
        str,
        typer.Option(
            '--role', help='builder (trigger, retry, stop) or operator (also configures projects and the auto-loop).'
        ),
    ] = 'builder',
    admin: Annotated[
        bool,
        typer.Option(
            '--admin', help='Also a deployment administrator: may drain workers and change what every team shares.'
        ),
    ] = False,
    new_team: Annotated[
        bool,
        typer.Option(
            '--new-team',
            help='Create the teams named that do not exist yet (without it a misspelt team is refused, not created).',
        ),
    ] = False,
    data_dir: DataDirOpt = None,
    database_url: DatabaseUrlOpt = None,
    json_output: Annotated[bool, typer.Option('--json', help='Print {"user_id", "token"} as JSON.')] = False,
) -> None:
    """Create a person in one or more teams and print their API token (shown once; stored hashed).

    In team mode each person signs in to the UI, and uses the CLI, with their own token. A name already in one of
    the teams is refused (exit 3), and so is a team that does not exist (exit 2) unless --new-team says to create
    it; on a database with no team yet (the first admin) the team is created without it. The audit log records the
    person and the token (person.created, token.created) in each team."""
    from app.cli.policy import exit_for_status  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)
    from app.core.errors import DomainError  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)
    from app.infra.db import dispose, make_engine, upgrade  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)
    from app.models import Role  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)
    from app.services.identity.people import add_person_on_server  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)

    if role not in (Role.builder.value, Role.operator.value):
        raise typer.BadParameter('must be builder or operator', param_hint='--role')
    if not team:
        raise typer.BadParameter('name at least one team', param_hint='--team')
    settings = _settings(data_dir=data_dir, database_url=database_url)
    engine = make_engine(settings.effective_database_url, pool_size=1)
    try:
        upgrade(engine)
        user, token = add_person_on_server(
            engine, name=name, role=Role(role), team_ids=team, is_admin=admin, new_team=new_team
        )
    except DomainError as exc:  # a refusal: nothing was made
        hint = '; --new-team creates it' if exc.error == 'unknown_team' else ''
        typer.echo(f'Error: {exc.detail}{hint} ({exc.error})', err=True)
        raise typer.Exit(exit_for_status(exc.status)) from None
    except Exception as exc:  # noqa: BLE001 - say what failed, not a traceback
        typer.echo(f'Error: could not create the user: {exc}', err=True)
        raise typer.Exit(5) from None
    finally:
        dispose(engine)
    teams = list(dict.fromkeys(team))
    if admin and role == Role.builder.value:  # the default role: a first administrator meant to add people is not one
        typer.echo(
            f'Note: {name} is a builder, who adds and manages nobody; a first administrator who adds the others '
            'is made with --role operator --admin.',
            err=True,
        )
    if json_output:
        typer.echo(
            json.dumps({'user_id': user.id, 'name': name, 'role': role, 'admin': admin, 'teams': teams, 'token': token})
        )
    else:
        typer.echo(
            f'Created {role}{" (deployment administrator)" if admin else ""} {name} ({user.id}) in {", ".join(teams)}.'
        )
        typer.echo(f'Token (shown once): {token}')


def worker(
    slots: Annotated[int, typer.Option('--slots', min=1, help='Runs this worker executes at once.')] = 2,
    labels: Annotated[
        str,
        typer.Option(
            '--labels',
            help='Runner labels, comma-separated (e.g. linux,gpu): it takes the runs whose runs_on it holds.',
        ),
    ] = '',
    name: Annotated[
        Optional[str],
        typer.Option('--name', help='Worker name, unique per worker (default: runboard@host; %h is the host).'),
    ] = None,
) -> None:
    """Execute runs handed out by the server (RUNBOARD_EXECUTOR=celery) on this machine. Needs the same
    RUNBOARD_DATABASE_URL, RUNBOARD_REDIS_URL (event bus) and broker (RUNBOARD_BROKER_URL, default the Redis)."""
    from app.config import Settings  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)
    from app.models.labels import normalise_labels  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)
    from app.services.execution.worker import WorkerRefused, run_worker  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)

    try:
        held = normalise_labels(labels.split(','))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint='--labels') from None
    try:
        run_worker(Settings(), slots=slots, labels=held, name=name)
    except WorkerRefused as exc:
        typer.echo(f'runboard worker: cannot start: {exc}', err=True)
        raise typer.Exit(2) from None
