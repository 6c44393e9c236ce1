"""`runboard users list|role|remove`: the people in an operator's teams, changing a person's role, and removing a
person from the operator's teams (offboarding), through the API, so every server instance applies it at once. A
person is named by name, as `runboard users revoke` does, or by id (`--id`) when several people of the teams share
the name. (`runboard users add` is the server side's: app/cli/admin.py.)"""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich import box
from rich.table import Table

from app.cli import render
from app.cli.context import Cli, JsonOpt, ServerOpt
from app.client import ApiError, RunboardClient

ROLES = ('operator', 'builder')
IdOpt = Annotated[
    Optional[str],
    typer.Option(
        '--id',
        metavar='USER_ID',
        help='The person by id instead of by name (`runboard users list` shows it), when several share the name.',
    ),
]
NameArgument = Annotated[
    Optional[str],
    typer.Argument(metavar='NAME', help="The person's name (or --id USER_ID).", show_default=False),
]


def last_use(person: dict) -> str | None:
    """Pure: the latest last use among a person's tokens (None: none used, or no tokens)."""
    used = [token['last_used_at'] for token in person.get('tokens') or [] if token.get('last_used_at')]
    return max(used) if used else None


def people_table(people: list[dict]) -> Table | str:
    """`users list`: a person a row (names as inert one-line text: a person chose theirs)."""
    if not people:
        return 'Nobody in your teams.'
    table = Table(header_style='bold', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    # the id whole, however narrow the terminal: `--id` takes it (the names wrap instead)
    table.add_column('USER ID', no_wrap=True, min_width=max(len(person['id']) for person in people))
    table.add_column('NAME')
    table.add_column('ROLE', no_wrap=True)
    table.add_column('TEAMS')
    table.add_column('TOKENS', justify='right', no_wrap=True)
    table.add_column('LAST USED', no_wrap=True)
    for person in people:
        used = last_use(person)
        marks = [
            mark
            for mark, on in (('admin', person.get('is_admin')), ('+other teams', person.get('in_other_teams')))
            if on
        ]
        table.add_row(
            person['id'],
            render.escape(render.one_line(person['name'])),
            person['role'] + (f' ({", ".join(marks)})' if marks else ''),
            render.escape(', '.join(render.one_line(team) for team in person['teams'])),
            str(len(person.get('tokens') or [])),
            str(used)[:16].replace('T', ' ') if used else 'never',
        )
    return table


def chosen_person(name: str | None, user_id: str | None, people: list[dict]) -> str | ApiError:
    """Pure: whose id `NAME` or `--id` means among the people of the caller's teams, or the refusal the command
    ends with: neither or both given (422: usage), nobody of that name (404), several of that name (409, with their
    ids: take one by --id). An id is passed on as it is: the server answers 404 for one outside the teams."""
    if (name is None) == (user_id is None):
        return ApiError(422, 'validation', 'name the person: NAME or --id USER_ID (one of them)')
    if user_id is not None:
        return user_id
    named = [person['id'] for person in people if person['name'] == name]
    if not named:
        return ApiError(404, 'not_found', f'no one named {name!r} in your teams')
    if len(named) > 1:
        return ApiError(
            409,
            'ambiguous_name',
            f'{len(named)} people named {name} are in your teams ({", ".join(named)}): take one by id (--id USER_ID)',
            body={'user_ids': named},
        )
    return named[0]


async def _resolve(client: RunboardClient, name: str | None, user_id: str | None) -> str:
    chosen = chosen_person(name, user_id, [] if user_id else await client.list_people())
    if isinstance(chosen, ApiError):
        raise chosen
    return chosen


def removed_text(answer: dict[str, Any]) -> str:
    """Pure: what `users remove` did, a line each (names as inert one-line text)."""
    name = render.one_line(answer['name'])
    lines = [f'Removed {name} ({answer["user_id"]}) from {", ".join(answer["teams"])}.']
    if answer['in_other_teams']:
        lines.append('They are still in a team you are not in: their tokens keep working there.')
    else:
        lines.append(f'In no team any more: {answer["tokens_revoked"]} token(s) revoked, refused from now on.')
    for schedule in answer['schedules_paused']:
        lines.append(
            f'Paused schedule {render.one_line(schedule["name"])} ({schedule["id"]}) of {schedule["project_id"]}.'
        )
    for project in answer['push_rules_as_them']:
        lines.append(
            f'Push rules of {render.one_line(project["name"])} ({project["id"]}) still start runs as {name}: '
            f'save them again to own them (`runboard projects edit {project["id"]} --on-push BRANCH…`, or in its '
            'settings page).'
        )
    return render.escape('\n'.join(lines))


def users_list(json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Operators: the people in your teams, with their role, teams (yours they are in), tokens and last use."""
    Cli.make(server, json_output).show(lambda client: client.list_people(), people_table)


def users_role(
    name: NameArgument = None,
    role: Annotated[
        Optional[str],
        typer.Argument(metavar='ROLE', help='operator or builder.', show_default=False),
    ] = None,
    user_id: IdOpt = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Operators: make a person in your teams an operator or a builder.

    `users role NAME ROLE`, or `users role --id USER_ID ROLE` when several people share the name. It holds from their
    next request, on every server. A team's last operator stays one (exit 3); someone also in a team you are not in,
    or a deployment administrator (unless you are one), is refused (exit 4)."""
    if user_id is not None and role is None and name in ROLES:  # `users role --id usr_x builder`
        name, role = None, name
    if role not in ROLES:
        raise typer.BadParameter('must be operator or builder', param_hint='ROLE')
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> None:
        person = await client.change_role(await _resolve(client, name, user_id), str(role))
        if cli.json:
            cli.print_json(person)
        else:
            cli.out.print(render.escape(f'{render.one_line(person["name"])} ({person["id"]}) is now {person["role"]}.'))

    cli.execute(work)


def users_remove(
    name: NameArgument = None, user_id: IdOpt = None, json_output: JsonOpt = False, server: ServerOpt = None
) -> None:
    """Operators: remove a person from every team of yours (offboarding).

    A team of theirs you are not in keeps them. In no team any more, their tokens are revoked (refused from the next
    request, on every server). Their schedules on your teams' projects are paused; projects whose push rules run as
    them are named, to save the rules again as yours. A team's last operator is not removed (exit 3), nor a
    deployment administrator unless you are one (exit 4)."""
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> None:
        answer = await client.remove_person(await _resolve(client, name, user_id))
        if cli.json:
            cli.print_json(answer)
        else:
            cli.out.print(removed_text(answer))

    cli.execute(work)
