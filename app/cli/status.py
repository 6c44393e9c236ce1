"""`runboard status`: which server this CLI talks to, in which mode and version, and as whom (the CLI's side
of the EnvProvenance chip); says so when the CLI and the server are different builds."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from app.build_info import this_build
from app.cli.context import Cli, JsonOpt, ServerOpt
from app.cli.render import escape
from app.state.provenance import provenance


def status(json_output: JsonOpt = False, server: ServerOpt = None) -> None:
    """Show which server, mode, version and database you are talking to, and who you are there."""
    cli = Cli.make(server, json_output)

    def table(about: dict[str, Any]) -> Table:
        chip = provenance(ui=this_build(), about=about, server_url=cli.server, connected=None)
        out = Table(show_header=False, box=None)
        out.add_column(style='dim')
        out.add_column()
        for name, value in chip.facts:
            out.add_row('CLI version' if name == 'UI version' else name, value)
        out.add_row('instance', about['instance'])
        if about.get('sandbox_warning'):
            out.add_row('[red]warning[/]', f'[red]{about["sandbox_warning"]}[/]')
        if about.get('limits_warning'):
            out.add_row('[yellow]warning[/]', f'[yellow]{escape(about["limits_warning"])}[/]')
        if about.get('artifact_store_warning'):
            out.add_row('[yellow]warning[/]', f'[yellow]{escape(about["artifact_store_warning"])}[/]')
        if 'differs from the server' in dict(chip.facts).get('UI version', ''):
            out.add_row('[yellow]note[/]', '[yellow]this CLI and the server are different builds[/]')
        return out

    async def fetch(client: Any) -> dict[str, Any]:
        about = await client.about()
        about['cli'] = {'version': this_build().version, 'commit': this_build().commit, 'server_url': cli.server}
        return about

    cli.show(fetch, table)
