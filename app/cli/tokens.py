"""`runboard tokens list|create|revoke` and `runboard users revoke`: everyone lists, creates and revokes their own
tokens (personal tokens); operators also those of the people in their teams, and revoke a person's by name. Through
the API, so every server instance stops accepting a revoked token at once."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich import box
from rich.table import Table

from app.cli import render
from app.cli.context import Cli, JsonOpt, ServerOpt, given_id
from app.client import RunboardClient

tokens_app = typer.Typer(
    help='API tokens: your own, and (operators) those of the people in your teams.', no_args_is_help=True
)


def _table(items: list[dict]) -> Table | str:
    if not items:
        return 'No tokens.'
    table = Table(header_style='bold', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    # the id whole, however narrow the terminal: `runboard tokens revoke` takes it (the names wrap instead)
    table.add_column('TOKEN ID', no_wrap=True, min_width=max(len(item['id']) for item in items))
    table.add_column('NAME')
    table.add_column('PERSON')
    table.add_column('ROLE')
    table.add_column('CREATED', no_wrap=True)
    table.add_column('LAST USED', no_wrap=True)
    for item in items:
        created = str(item['created_at'])[:16].replace('T', ' ')  # UTC, to the minute
        used = str(item['last_used_at'])[:16].replace('T', ' ') if item.get('last_used_at') else 'never'
        table.add_row(
            item['id'], render.escape(item['name']), render.escape(item['user_name']), item['role'], created, used
        )
    return table


@tokens_app.command('list')
def tokens_list(json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """List your tokens, or (operators) those of the people in your teams (ids, names and owners; the secrets are
    never stored)."""
    Cli.make(server, json_output).show(lambda client: client.list_tokens(), _table)


def created_text(answer: dict[str, Any]) -> str:
    """Pure: what `tokens create` prints: the token alone on its line (no wrapping: it is copied whole), once."""
    return (
        f'Created token "{answer["name"]}" ({answer["id"]}) for {answer["user_name"]}: it acts as them, with their '
        'role.\n'
        f'Token (shown once): {answer["token"]}\n'
        'Copy it now: the server keeps only its hash and cannot show it again.'
    )


@tokens_app.command('create')
def tokens_create(
    name: Annotated[
        str, typer.Argument(metavar='NAME', help='Where it will be used, e.g. ci or laptop (one name per person).')
    ],
    user: Annotated[
        Optional[str],
        typer.Option(
            '--user',
            metavar='USER_ID',
            help='Operators: for a person in your teams (user_id in `runboard tokens list --json`). Default: you.',
        ),
    ] = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Create an API token, yours unless --user, and print it once (the server keeps only its hash)."""
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> None:
        answer = await client.create_token(name=name, user_id=user)
        if cli.json:
            cli.print_json(answer)
        else:
            typer.echo(created_text(answer))  # not through rich: a narrow terminal must not wrap the token

    cli.execute(work)


@tokens_app.command('revoke')
def tokens_revoke(
    token_id: Annotated[
        str, typer.Argument(metavar='TOKEN_ID', help='From `runboard tokens list`.', callback=given_id)
    ],
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Revoke one of your tokens, or (operators) of a person in your teams: every server instance answers 401 to it
    from now on."""
    Cli.make(server, json_output).show(
        lambda client: client.revoke_token(token_id), lambda answer: f'Revoked {", ".join(answer["revoked"])}.'
    )


LEFT_ALONE = {
    'other_team': 'also in a team you are not in: only someone in all of their teams can revoke their tokens',
    'admin': 'a deployment administrator: only a deployment administrator can revoke their tokens',
}


def _revoked_by_name(name: str, answer: dict) -> str:
    """What a revocation by name did, and whom of that name it left alone (names are not unique across teams)."""
    lines = [f'Revoked {len(answer["revoked"])} token(s) of {name}: {", ".join(answer["revoked"])}.']
    for person in answer.get('left_alone') or []:
        why = LEFT_ALONE.get(person['reason'], person['detail'])
        lines.append(f'Left alone: {person["name"]} ({person["user_id"]}), {why}.')
    return render.escape('\n'.join(lines))


def users_revoke(
    name: Annotated[str, typer.Argument(help='The person whose tokens to revoke.')],
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Revoke every token of a person (through the server: all instances stop accepting them at once). Names are
    not unique across teams: the person of that name you manage is meant; others of the name are left alone, and
    the answer says so. Several you manage: revoke by id (`runboard tokens revoke`)."""
    Cli.make(server, json_output).show(
        lambda client: client.revoke_user_tokens(name), lambda answer: _revoked_by_name(name, answer)
    )
