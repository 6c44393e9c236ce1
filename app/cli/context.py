"""What every CLI command shares: where the server is, the token, output mode, and error reporting."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Optional
from urllib.parse import urlsplit

import typer
from rich.console import Console

from app.cli import render
from app.cli.closed_stdout import exit_stdout_closed
from app.cli.policy import Exit, exit_code_for
from app.client import ApiError, RunboardClient

DEFAULT_SERVER = 'http://127.0.0.1:8080'


def _server(ctx: typer.Context, param: typer.CallbackParam, value: Optional[str]) -> Optional[str]:
    """A command's --server: given after the command, it wins; else the one given before the command
    (`runboard --server URL runs list`); else RUNBOARD_SERVER; else the default (Cli.make)."""
    source = ctx.get_parameter_source(param.name or 'server')
    if getattr(source, 'name', None) == 'COMMANDLINE':
        return value
    root = ctx.find_root()
    before = root.params.get('server') if root is not ctx else None
    return before or value


SERVER_HELP = f'Runboard server to talk to (default {DEFAULT_SERVER}).'
ServerOpt = Annotated[
    Optional[str],
    typer.Option(
        '--server',
        envvar='RUNBOARD_SERVER',
        show_envvar=True,
        metavar='URL',
        help=SERVER_HELP,
        rich_help_panel='Connection',
        callback=_server,
    ),
]
# The same option before the command (runboard --server URL runs list): app/cli/main.py's callback.
RootServerOpt = Annotated[
    Optional[str],
    typer.Option(
        '--server',
        metavar='URL',
        help=SERVER_HELP + ' Before the command or after it; or RUNBOARD_SERVER.',
        rich_help_panel='Connection',
    ),
]
JsonOpt = Annotated[
    bool,
    typer.Option('--json', help='Print the API object as JSON (progress goes to stderr).', rich_help_panel='Output'),
]


def if_version_option(key: str, where: str) -> Any:
    """An edit command's --if-version VERSION (typer's Option for the parameter's Annotated): the version of the
    thing the script read (`key`, found as `where` says), which the edit sends (with_version) so that the server
    refuses it, exit 3, when someone changed the thing since (409 edit_conflict), instead of the last save winning."""
    return typer.Option(
        '--if-version',
        metavar='VERSION',
        min=1,
        help=f'Only if it is still at this version (its `{key}` as you read it: `{where}`); if someone changed it '
        'since, nothing is saved and the exit code is 3 (edit_conflict).',
    )


def with_version(body: dict[str, Any], if_version: int | None, key: str) -> dict[str, Any]:
    """An edit's body with the version --if-version gave (as `key`: `version`, `edit_version`); without it, as it
    is (the edit then applies to the thing as it is now)."""
    return {**body, **({} if if_version is None else {key: if_version})}


def given_id(value: Any) -> Any:
    """An id argument (or each of several) given empty or blank is exit 2 saying so: `runboard runs logs "$RUN"` with
    RUN unset or `jq -r .id` having printed nothing once asked another endpoint (`GET /runs/`) and ended in a
    traceback or in another command's answer. A callback of the arguments that name something on the server."""
    for one in value if isinstance(value, list) else [value]:
        if isinstance(one, str) and not one.strip():
            raise typer.BadParameter('is empty: is the shell variable that should hold it set?')
    return value


def complete_project(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion of project ids (quietly nothing when the server is not answering)."""
    import httpx  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)

    server = (ctx.params.get('server') or DEFAULT_SERVER).rstrip('/')
    token = resolve_token()
    try:
        reply = httpx.get(
            server + '/api/projects', timeout=2, headers={'Authorization': f'Bearer {token}'} if token else {}
        )
        return [p['id'] for p in reply.json() if p['id'].startswith(incomplete)]
    except Exception:  # noqa: BLE001
        return []


# A command about one project takes it either way, `runboard afk on demo` or `runboard afk on -p demo`: a pair of
# parameters, read by chosen_project.
ProjectArgument = Annotated[
    Optional[str],
    typer.Argument(
        metavar='PROJECT', help='Project id (or --project).', autocompletion=complete_project, show_default=False
    ),
]
ProjectOption = Annotated[
    Optional[str],
    typer.Option('--project', '-p', metavar='PROJECT', help='Project id.', autocompletion=complete_project),
]


def var_option(whose: str) -> Any:
    """`--var NAME=VALUE`, repeatable: the variables of a run (`whose`: "this run", "each run of the matrix", ...)."""
    said = f"A variable of {whose}, over the project's of that name (repeat it for more)."
    return typer.Option('--var', metavar='NAME=VALUE', help=said)


def parse_vars(pairs: list[str] | None) -> dict[str, str]:
    """Pure: --var NAME=VALUE, each once (the value may hold '='); the server judges the names (exit 2 here on a
    malformed or doubled one, before anything is sent)."""
    variables: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition('=')
        if not sep or not name:
            raise typer.BadParameter(f'{pair!r} is not NAME=VALUE', param_hint='--var')
        if name in variables:
            raise typer.BadParameter(f'{name} is given twice', param_hint='--var')
        variables[name] = value
    return variables


def chosen_project(argument: str | None, option: str | None) -> str:
    """Pure: the project of `COMMAND PROJECT` or `COMMAND --project PROJECT` (exit 2 without one, or with two that
    differ)."""
    if argument and option and argument != option:
        raise typer.BadParameter(f'two projects given: {argument!r} and {option!r}', param_hint='PROJECT')
    if not (argument or option):
        raise typer.BadParameter('name the project: PROJECT or --project PROJECT', param_hint='PROJECT')
    return argument or option or ''


def server_url(given: str | None) -> str:
    """Pure: the server's base URL from --server / RUNBOARD_SERVER (the default when neither), without a trailing
    slash. One without http:// or https:// (`localhost:8080`) is exit 2 saying so: sent as it is, it would fail as
    "could not reach the server" while that server is up."""
    url = (given or DEFAULT_SERVER).strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ('http', 'https') or not parts.netloc:
        bare = url.split('://', 1)[-1].strip('/') or 'HOST:PORT'
        raise typer.BadParameter(
            f'{url!r} is not a server address: give it with http:// or https://, e.g. http://{bare}',
            param_hint='--server / RUNBOARD_SERVER',
        )
    return url.rstrip('/')


def resolve_token() -> str | None:
    """RUNBOARD_TOKEN, else the credentials file local mode writes in the data directory."""
    token = os.environ.get('RUNBOARD_TOKEN')
    if token:
        return token.strip()
    from app.config import Settings  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)
    from app.local_sign_in import read_local_token  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)

    try:
        return read_local_token(Settings().credentials_path)
    except Exception:  # noqa: BLE001 - a broken environment means no token; the server will say 401
        return None


def credentials_hint() -> str:
    """For a 401: where this CLI looked for a token, and how to point it elsewhere."""
    if os.environ.get('RUNBOARD_TOKEN', '').strip():
        return (
            'The token in RUNBOARD_TOKEN was refused (revoked, or made for another server): set a valid one, '
            'or unset it to use the one local mode saves in its data directory.'
        )
    try:
        from app.config import Settings  # noqa: PLC0415  (loaded by the one command that needs it: the CLI starts fast)

        path = Settings().credentials_path
        where, found = str(path), path.exists()
    except Exception:  # noqa: BLE001 - a broken environment: say what would have been read
        where, found = 'credentials.json in the data directory', False
    if not found:  # a team server makes no local account (RUNBOARD_LOCAL_ACCOUNT): a token of a person is needed
        return (
            f'RUNBOARD_TOKEN is not set and there is no local-mode token at {where}. A local server started with '
            '--data-dir DIR keeps its token in DIR/credentials.json: set RUNBOARD_DATA_DIR=DIR. A team server makes '
            'none: set RUNBOARD_TOKEN to a token of yours (Your tokens in the UI, or `runboard tokens create`); its '
            'first administrator is made on the database with `runboard users add NAME --team TEAM --role operator '
            '--admin`.'
        )
    return (
        f'RUNBOARD_TOKEN is not set, so the CLI read the local-mode token from {where}, and the server refused it: '
        "it is another server's, or it was revoked (a server makes a new one at its next start). A server started "
        'with --data-dir DIR keeps its token in DIR/credentials.json: set RUNBOARD_DATA_DIR=DIR (as the server has '
        'it), or set RUNBOARD_TOKEN to a token of that server.'
    )


@dataclass
class Cli:
    server: str
    token: str | None
    json: bool = False
    out: Console = field(default_factory=render.stdout_console)
    err: Console = field(default_factory=render.stderr_console)
    correlation_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    # the run this command follows (follow_and_print), which an interrupt leaves going: the note names it
    run_in_hand: str | None = None
    # the matrix batch this command follows (`runs trigger --matrix ... --follow`), which an interrupt leaves going
    batch_in_hand: str | None = None

    @classmethod
    def make(cls, server: str | None, json_output: bool = False) -> Cli:
        return cls(server=server_url(server), token=resolve_token(), json=json_output)

    @property
    def info(self) -> Console:
        """Where human notices go: stdout normally, stderr when stdout carries JSON."""
        return self.err if self.json else self.out

    def client(self) -> RunboardClient:
        return RunboardClient(self.server, self.token, correlation_id=self.correlation_id)

    def print_json(self, value: Any) -> None:
        typer.echo(json.dumps(value, indent=2, default=str))

    def show(
        self, fetch: Callable[[RunboardClient], Awaitable[Any]], human: Callable[[Any], Any], *, paged: bool = False
    ) -> None:
        """The body most commands share: one API call, its answer printed as JSON or for a person. `paged`: the
        answer is a page (`next_cursor`), whose hint follows the rows (hint_next_page)."""

        async def work(client: RunboardClient) -> None:
            answer = await fetch(client)
            if self.json:
                self.print_json(answer)
            else:
                self.out.print(human(answer))
                if paged:
                    self.hint_next_page(answer)

        self.execute(work)

    def hint_next_page(self, page: dict[str, Any]) -> None:
        """`More: --cursor ID` when there is a next page, on stderr: piped stdout is the rows only (`| awk`), as
        with gh."""
        if page.get('next_cursor'):
            self.err.print(f'[dim]More: --cursor {page["next_cursor"]}[/]')

    def execute(self, work: Callable[[RunboardClient], Awaitable[int | None]]) -> None:
        """Run one command's async body; turn an API error into its message and exit code."""

        async def main() -> int | None:
            async with self.client() as client:
                try:
                    return await work(client)
                except ApiError as error:
                    if error.status == 409 and error.blocking_runs:
                        error.body['_blocking'] = await _blocking_details(client, error.blocking_runs)
                    raise

        try:
            code = asyncio.run(main())
        except ApiError as error:
            self.report(error)
            raise typer.Exit(int(exit_code_for(error))) from None
        except (KeyError, TypeError) as exc:  # a 2xx answer without the fields a Runboard API always sends
            self.err.print(
                f'[bold red]Error:[/] the answer from {self.server} is not what a Runboard server sends '
                f'({type(exc).__name__}: {render.escape(str(exc))}). Is --server / RUNBOARD_SERVER '
                'pointing at a Runboard API?'
            )
            self.err.print(f'Correlation id: {self.correlation_id}')
            raise typer.Exit(int(Exit.UNREACHABLE)) from None
        except BrokenPipeError:  # stdout written without Rich (`runs logs --raw`, --json) to a reader that went away
            exit_stdout_closed()
        except KeyboardInterrupt:
            run_id, batch_id = self.run_in_hand, self.batch_in_hand
            if batch_id:
                self.err.print(
                    f'Interrupted. The runs of batch {batch_id} keep going on the server; '
                    f'runboard runs batch {batch_id} --stop-all stops them.'
                )
            else:
                self.err.print(
                    f'Interrupted. Run {run_id} keeps going on the server; runboard runs stop {run_id} stops it.'
                    if run_id
                    else 'Interrupted.'
                )
            raise typer.Exit(130) from None
        raise typer.Exit(int(code or Exit.OK))

    def report(self, error: ApiError) -> None:
        """The error for a person (stderr, always with the correlation id); the problem object with --json."""
        cid = error.correlation_id or self.correlation_id
        if self.json:
            body = {k: v for k, v in error.body.items() if not k.startswith('_')} or {
                'status': error.status,
                'error': error.error,
                'detail': error.detail,
            }
            body.setdefault('correlation_id', cid)
            self.print_json(body)
        where = f'HTTP {error.status} {error.error}' if error.status else error.error
        self.err.print(f'[bold red]Error:[/] {render.escape(error.detail)} [dim]({where})[/]')
        if error.status == 429:
            wait = error.retry_after
            if wait is not None:
                until = (datetime.now() + timedelta(seconds=wait)).strftime('%H:%M:%S')
                self.err.print(f'Wait {wait} s (until {until}), or run again with --wait to wait automatically.')
        blocking = error.body.get('_blocking') or [{'id': run_id} for run_id in error.blocking_runs]
        if blocking:
            self.err.print('Blocked by:')
            for run in blocking:
                self.err.print('  ' + render.escape(_one_line(run)))
        if error.status == 0:
            self.err.print(
                f'Is the server running at {self.server}? Start one with `runboard serve`, '
                'or point at another with --server / RUNBOARD_SERVER.'
            )
        if error.status and not error.body and error.error != 'redirect':
            self.err.print(
                'The server answered without a problem description: is it a Runboard server, and a '
                "version that has this command's endpoint?"
            )
        if error.status == 401:
            self.err.print(render.escape(credentials_hint()))
        self.err.print(f'Correlation id: {cid}')


def _one_line(run: dict) -> str:
    if 'status' not in run:
        return run['id']
    return (
        f'{run["id"]}  {run["status"]}  {run["project_id"]}  {run["branch_name"]}  '
        f'{run["depth_level"]}/{run["target_framework"]}  by {run.get("user_name") or "-"}'
    )


async def _blocking_details(client: RunboardClient, run_ids: list[str]) -> list[dict]:
    details = []
    for run_id in run_ids[:10]:
        try:
            details.append(await client.get_run(run_id, events_limit=0))
        except ApiError:
            details.append({'id': run_id})
    return details
