"""`runboard runs artifacts RUN [--download DIR]`, and the tests and summary parts of `runboard runs show`
(docs/artifacts.md)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Optional

import typer
from rich import box
from rich.console import Group
from rich.markdown import Markdown
from rich.table import Table
from rich.text import Text

from app.cli.context import Cli, JsonOpt, ServerOpt, given_id
from app.cli.policy import Exit, exit_for_status
from app.cli.render import escape, one_line, without_controls
from app.client import ApiError, RunboardClient
from app.state.artifacts_view import (
    OLD_SUMMARY,
    coverage_text,
    failure_title,
    first_line,
    mark_text,
    seconds_text,
    size_text,
    summary_item,
    totals_text,
)

MARK_STYLE = {'new': 'red', 'still_failing': 'yellow', 'flaky': 'magenta', 'failing_on_base': 'blue', 'fixed': 'green'}


def artifacts_table(answer: dict[str, Any]) -> Table:
    table = Table(header_style='bold', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for column in ('PATH', 'SIZE', 'TYPE', 'KEPT'):
        table.add_column(column, no_wrap=column != 'KEPT', justify='right' if column == 'SIZE' else 'left')
    for item in answer.get('items') or []:
        refused = Text(f'refused: {one_line(str(item.get("refused")))}', style='red')  # the refusal names the file
        kept = Text('yes', style='green') if item['stored'] else refused
        kind = Text(one_line(item.get('content_type') or ''))
        table.add_row(Text(one_line(item['path'])), size_text(item['size']), kind, kept)
    return table


def tests_table(tests: dict[str, Any], *, limit: int = 20) -> Table | None:
    """The run's failing tests, each with how it stands against earlier runs and its message's first line; then the
    tests it fixed (passed here, failed by the previous run that ran them)."""
    failures, fixed = tests.get('failures') or [], tests.get('fixed') or []
    if not failures and not fixed:
        return None
    table = Table(header_style='bold', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for column in ('TEST', 'STATUS', 'HISTORY', 'MESSAGE'):
        table.add_column(column, no_wrap=column in ('STATUS',))
    base = tests.get('base_branch')
    for case in failures[:limit] + fixed[:limit]:
        table.add_row(
            Text(one_line(failure_title(case))),
            Text(case['status'], style='green' if case['status'] == 'passed' else 'red'),
            Text(mark_text(case, base), style=MARK_STYLE.get(case.get('mark') or '', '')),
            Text(one_line(first_line(case.get('message')))),
        )
    left_out = max(0, len(failures) - limit) + max(0, len(fixed) - limit)
    if left_out:
        table.caption = f'{left_out} more: runboard runs show {tests.get("run_id") or "RUN"} --json'
    return table


async def run_summary(client: RunboardClient, run_id: str) -> Group | Text | None:
    """The Markdown summary the run wrote ($RUNBOARD_SUMMARY), as its page shows it (masked as its log is), rendered
    for the terminal; None without one; one line saying why when it cannot be read: the run is shown all the same,
    as on its page."""
    try:
        summary = await client.run_summary(run_id)
    except ApiError as exc:
        return Text(f'Summary: could not read it: {one_line(str(exc))}', style='yellow')
    if summary is None:  # none, or one kept before summaries were masked: its artifact is all there is
        return Text(OLD_SUMMARY, style='dim') if summary_item(await client.run_artifacts(run_id)) else None
    parts: list[Any] = [Text('Summary', style='bold'), Markdown(without_controls(summary['text']))]
    if summary.get('cut'):
        parts.append(Text(f'… (the rest: runboard runs artifacts {run_id} --download DIR)', style='dim'))
    return Group(*parts)


def tests_summary(tests: dict[str, Any]) -> Text | None:
    """`Tests: 5 tests · ...` and, when the run kept a Cobertura report, `Coverage 87.30 % ...` under it."""
    lines = []
    if tests.get('has_report'):
        lines.append(Text.assemble(('Tests: ', 'bold'), totals_text(tests.get('totals') or {})))
    if tests.get('coverage'):
        lines.append(Text(coverage_text(tests['coverage']), style='bold'))
    return Text('\n').join(lines) if lines else None


def safe_target(folder: Path, path: str) -> Path:
    """Where `path` is written under `folder`; never outside it (the server checks paths too)."""
    parts = PurePosixPath(path).parts
    if (
        not parts
        or any(part in ('', '.', '..') or '/' in part or '\\' in part for part in parts)
        or path.startswith('/')
    ):
        raise ValueError(f'refusing to write {path!r} outside {folder}')
    return folder.joinpath(*parts)


def artifacts(
    run_id: Annotated[str, typer.Argument(metavar='RUN_ID', help='The run, e.g. run_01JD...', callback=given_id)],
    download: Annotated[
        Optional[Path],
        typer.Option(
            '--download',
            '-d',
            metavar='DIR',
            help='Save every kept artifact under DIR (made if missing), keeping its path.',
            file_okay=False,
        ),
    ] = None,
    zip_file: Annotated[
        Optional[Path],
        typer.Option(
            '--zip',
            metavar='FILE',
            help='Save every kept artifact in one zip archive at FILE, each under its path.',
            dir_okay=False,
        ),
    ] = None,
    json_output: JsonOpt = False,
    server: ServerOpt = None,
) -> None:
    """List the files a run kept (and those refused, with why); with --download or --zip, save them, byte for byte.

    The files are as the run wrote them: a secret it wrote into one is not masked there (its log, test results,
    summary and the previews on its page are masked; docs/security.md)."""
    if download is not None and zip_file is not None:
        raise typer.BadParameter('give --download DIR or --zip FILE, not both', param_hint='--zip')
    cli = Cli.make(server, json_output)

    async def work(client: RunboardClient) -> int:
        if zip_file is not None:
            size = await save_zip(client, run_id, zip_file)
            if cli.json:
                cli.print_json({'file': str(zip_file), 'size': size})
            else:
                cli.out.print(f'The artifacts of {run_id} saved in {zip_file} ({size_text(size)})')
            return Exit.OK
        answer = await client.run_artifacts(run_id)
        if cli.json and download is None:
            cli.print_json(answer)
            return Exit.OK
        if answer.get('removed_at'):
            expired = (
                f'The artifacts of {run_id} expired: artifact retention removed them on {answer["removed_at"][:10]}.'
            )
            if download is None:
                cli.out.print(expired)
                if answer['items']:  # its summary stays with the run
                    cli.out.print(artifacts_table(answer))
                return Exit.OK
            cli.err.print(f'Error: {expired}')  # as --zip: a script must not take nothing for a download
            return exit_for_status(410)
        if download is None:
            if not answer['items']:
                cli.out.print(f'Run {run_id} kept no artifacts.')
            else:
                cli.out.print(artifacts_table(answer))
            return Exit.OK
        download.mkdir(parents=True, exist_ok=True)
        saved = []
        for item in answer['items']:
            if not item['stored']:
                continue
            target = safe_target(download, item['path'])
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f'.{target.name}.part')
            with open(partial, 'wb') as out:
                async for _, chunk in client.artifact_stream(run_id, item['path'], download=True):
                    out.write(chunk)
            os.replace(partial, target)
            saved.append({'path': item['path'], 'size': item['size'], 'file': str(target)})
            if not cli.json:
                cli.err.print(f'saved {escape(one_line(item["path"]))} ({size_text(item["size"])})')
        if cli.json:
            cli.print_json(saved)
        else:
            cli.out.print(f'{len(saved)} artifact(s) of {run_id} saved in {download}')
        return Exit.OK

    cli.execute(work)


async def save_zip(client: RunboardClient, run_id: str, target: Path) -> int:
    """The run's artifacts archive written to `target` (through a partial file: a download that breaks leaves no
    archive that looks whole); its size."""
    partial = target.with_name(f'.{target.name}.part')
    size = 0
    try:
        with open(partial, 'wb') as out:
            async with contextlib.aclosing(client.artifacts_zip_stream(run_id)) as chunks:
                async for _, chunk in chunks:
                    size += out.write(chunk)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return size


__all__ = ['artifacts', 'artifacts_table', 'seconds_text', 'tests_summary', 'tests_table']
