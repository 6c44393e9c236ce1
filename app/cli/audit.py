"""`runboard audit`: the audit log of your teams (operators): who did what, when, from which token."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from app.cli import render
from app.cli.context import Cli, JsonOpt, ServerOpt, given_id
from app.client import RunboardClient
from app.state.audit_view import details_text, sentence, target_link


def audit(
    action: Annotated[
        Optional[str],
        typer.Option(
            '--action',
            '-a',
            help='An action (run.stopped) or a group (run, afk, project, token); one the log does not know is exit 2, '
            'naming the close ones.',
        ),
    ] = None,
    actor: Annotated[Optional[str], typer.Option('--actor', help="Only this person's actions (name or id).")] = None,
    project: Annotated[Optional[str], typer.Option('--project', '-p', help='Only this project.')] = None,
    since: Annotated[Optional[str], typer.Option('--since', help='At or after: YYYY-MM-DD or ISO 8601 (UTC).')] = None,
    until: Annotated[Optional[str], typer.Option('--until', help='Before; a date includes that day (UTC).')] = None,
    limit: Annotated[int, typer.Option('--limit', '-n', min=1, max=500, help='At most this many.')] = 50,
    cursor: Annotated[
        Optional[str], typer.Option('--cursor', help='Continue after this entry id.', callback=given_id)
    ] = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """Show the audit log, newest first (operators)."""
    cli = Cli.make(server, json_output)

    async def fetch(client: RunboardClient) -> dict[str, Any]:
        filters = dict(action=action, actor=actor, project=project, since=since, until=until, cursor=cursor)
        return await client.audit_log(**filters, limit=limit)

    def table(page: dict[str, Any]) -> Table | str:
        if not page['items']:
            return 'No entries.'
        out = Table('When (UTC)', 'Who / what', 'Target', 'Details', 'Token')
        for entry in page['items']:
            out.add_row(
                entry['at'][:19].replace('T', ' '),
                render.escape(sentence(entry)),
                render.escape(target_link(entry)[0]),
                render.escape(details_text(entry)),
                entry.get('token_id') or '—',
            )
        return out

    cli.show(fetch, table, paged=True)
