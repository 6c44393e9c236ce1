"""Human output of the CLI: rich tables and timeline lines. JSON output bypasses this module."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.markup import escape  # also used by the command modules
from rich.table import Table
from rich.text import Text

from app.cli.closed_stdout import StdoutConsole
from app.cli.table_fit import column_widths, fitting_columns
from app.models.vocabulary import awaits_approval
from app.state import afk_summary as summary_view
from app.state.artifacts_view import coverage_trend_text
from app.state.caches_view import cache_rows, cleared_text, size_heading
from app.state.run_timing import memory_text, resources_text, retry_planned_text

ESC = '\x1b'
ST = ESC + '\\'  # the string terminator: ends an OSC sequence

STATUS_STYLE = {
    'queued': 'yellow',
    'running': 'cyan',
    'succeeded': 'green',
    'failed': 'red',
    'timed_out': 'red',
    'crashed': 'magenta',
    'stopped': 'bright_black',
    'stopping': 'bright_black',
    'delayed': 'blue',
    'expired': 'bright_black',
    'cancelled': 'bright_black',
    'skipped': 'yellow',
}


def _parse(moment: str | None) -> datetime | None:
    if not moment:
        return None
    value = datetime.fromisoformat(moment.replace('Z', '+00:00'))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def when(moment: str | None) -> str:
    """Local time, short: 14:03:07 today, else 2026-11-21 14:03."""
    value = _parse(moment)
    if value is None:
        return '-'
    local = value.astimezone()
    return (
        local.strftime('%H:%M:%S')
        if local.date() == datetime.now().astimezone().date()
        else local.strftime('%Y-%m-%d %H:%M')
    )


def duration(run: dict) -> str:
    start, end = _parse(run.get('started_at')), _parse(run.get('finished_at'))
    if start is None:
        return '-'
    seconds = int(((end or datetime.now(UTC)) - start).total_seconds())
    minutes, seconds = divmod(max(0, seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}h{minutes:02d}m' if hours else (f'{minutes}m{seconds:02d}s' if minutes else f'{seconds}s')


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ''))


RUN_COLUMNS = (
    'RUN', 'STATUS', 'PROJECT', 'BRANCH', 'COMMIT', 'DEPTH/FRAMEWORK', 'KIND', 'USER', 'CREATED', 'TOOK', 'COST'
)  # fmt: skip
# In a narrow terminal USER and KIND give way first; then COMMIT (`abc1234 Fix the parser`), which is first cut down
# to the sha and a few words of its title, as `gh run list` keeps a run's title over its event
RUN_COLUMNS_DROPPED_FIRST = ('USER', 'KIND', 'COMMIT', 'DEPTH/FRAMEWORK', 'PROJECT', 'CREATED', 'COST')
COMMIT_CELL_MAX = 40  # in a terminal, a longer title is cut with an ellipsis (piped, every cell stays whole)
COMMIT_CELL_MIN = 20  # `abc1234` and eleven characters of its title, the last an ellipsis
# One project's runs: no PROJECT column (the same on every row), so at 80 columns DEPTH/FRAMEWORK stays and
# TOOK goes before it (`runs show` has it)
ONE_PROJECT_DROPPED_FIRST = ('USER', 'KIND', 'COMMIT', 'TOOK', 'DEPTH/FRAMEWORK', 'CREATED', 'COST')


def runs_table(
    runs: Iterable[dict], *, title: str | None = None, width: int | None = None, one_project: bool = False
) -> Table:
    """The runs, a row each; in a terminal `width` columns wide, the columns that fit whole (the caption
    names the ones left out). `one_project`: they are all of one project, so no PROJECT column."""
    runs = list(runs)
    rows = [run_cells(run) for run in runs]
    spent = any(run.get('usage') for run in runs)  # COST only where an agent reported some (AFK runs, mostly)
    committed = any(run.get('commit_sha') for run in runs)  # COMMIT once some run's commit is known
    columns = tuple(
        name
        for name in RUN_COLUMNS
        if not (one_project and name == 'PROJECT') and (spent or name != 'COST') and (committed or name != 'COMMIT')
    )
    widths = column_widths(
        columns,
        (
            [
                cell.plain if isinstance(cell, Text) else cell
                for name, cell in zip(RUN_COLUMNS, row, strict=True)
                if name in columns
            ]
            for row in rows
        ),
    )
    if width and 'COMMIT' in widths:
        widths['COMMIT'] = min(widths['COMMIT'], COMMIT_CELL_MAX)
    drop = ONE_PROJECT_DROPPED_FIRST if one_project else RUN_COLUMNS_DROPPED_FIRST
    shown = fitting_columns(widths, width, drop, {'COMMIT': COMMIT_CELL_MIN}) if width else widths
    hidden = [name for name in columns if name not in shown]
    table = Table(
        title=title,
        caption=f'Not shown, for the width: {", ".join(hidden)} (--json has every field)' if hidden else None,
        caption_justify='left',
        caption_style='dim',
        header_style='bold',
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in shown:
        if column == 'COMMIT' and width:
            table.add_column(column, no_wrap=True, max_width=shown[column], overflow='ellipsis')
        else:
            table.add_column(column, no_wrap=column in ('RUN', 'STATUS', 'CREATED', 'TOOK'))
    keep = [RUN_COLUMNS.index(name) for name in shown]
    for row in rows:
        table.add_row(*(row[index] for index in keep))
    return table


def run_status_text(run: dict) -> Text:
    """A run's status as a list shows it: a delayed run that waits for an operator says so (`runs approve`), and one
    approved but held back by a lock or a limit (`runs show` says which)."""
    if awaits_approval(run):
        return Text('awaiting approval', style=STATUS_STYLE.get('delayed', ''))
    if run['status'] == 'delayed' and run.get('waits_for'):
        return Text('approved, waits', style=STATUS_STYLE.get('delayed', ''))
    return status_text(run['status'])


def run_cells(run: dict) -> list[Any]:
    kind = run['kind'] + (f' #{run["issue_number"]}' if run.get('issue_number') else '')
    return [
        run['id'],
        run_status_text(run),
        run['project_id'],
        run['branch_name'],
        commit_cell(run),
        f'{run["depth_level"]}/{run["target_framework"]}',
        kind,
        run.get('user_name') or '-',
        when(run.get('created_at')),
        duration(run),
        f'${run["usage"].get("cost_usd") or 0:,.2f}' if run.get('usage') else '-',
    ]


def commit_cell(run: dict) -> str:
    """`abc1234 Fix the parser`; the sha alone until the server has read the title, `-` before the commit is known."""
    sha = (run.get('commit_sha') or '')[:7]
    return one_line(f'{sha} {run.get("commit_title") or ""}'.strip()) if sha else '-'


def run_subject(run: dict) -> str:
    """Pure, rich markup: what a run runs, as the line that says it was made: `demo main (8a856ee Fix the parser)
    shallow/python`, the title cut to COMMIT_CELL_MAX; no commit before the server knows it."""
    commit = commit_cell(run)
    if len(commit) > COMMIT_CELL_MAX:
        commit = commit[: COMMIT_CELL_MAX - 1].rstrip() + '…'
    at = f' ({escape(commit)})' if commit != '-' else ''
    return (
        f'{escape(run["project_id"])} {escape(run["branch_name"])}{at} '
        f'{escape(run["depth_level"])}/{escape(run["target_framework"])}'
    )


def key_values(rows: Iterable[tuple[str, Any]], *, title: str | None = None) -> Table:
    table = Table(title=title, show_header=False, show_edge=False, pad_edge=False, box=None)
    table.add_column(style='bold')
    table.add_column()
    for key, value in rows:
        table.add_row(key, value if isinstance(value, Text) else Text('-' if value in (None, '') else str(value)))
    return table


def run_details(run: dict) -> Table:
    rows = [
        ('Run', run['id']),
        ('Project', run['project_id']),
        ('Status', status_text(run['status'])),
        ('Kind', run['kind']),
        ('Branch', one_line(run['branch_name'])),
        ('Depth', run['depth_level']),
        ('Framework', run['target_framework']),
        ('User', run.get('user_name')),
        ('Created', when(run.get('created_at'))),
        ('Started', when(run.get('started_at'))),
        ('Finished', when(run.get('finished_at'))),
        ('Took', duration(run)),
        ('Exit code', run.get('exit_code')),
        ('Output lines', run.get('output_lines')),
    ]
    if used := resources_text(run):  # its cgroup's count: peak memory, CPU time
        rows.insert(rows.index(('Exit code', run.get('exit_code'))) + 1, ('Used', used))
    if run.get('log_removed_at'):  # the count above is what it printed; the lines themselves are gone
        rows.append(('Log', f'output removed {when(run["log_removed_at"])} (log retention)'))
    if run.get('waiting'):
        rows.insert(3, ('Waiting', f'#{run.get("queue_position")} in line: {run["waiting"]}'))
    held_back = run['status'] == 'delayed' and run.get('waits_for')  # approved: its run_at is only the next try
    if run.get('run_at'):
        label = 'Tried again' if held_back else 'Runs at' if run['status'] == 'delayed' else 'Was due'
        rows.insert(3, (label, when(run['run_at'])))
    if run.get('approval') == 'waiting':
        rows.insert(3, ('Approval', 'waiting for approval by an operator (runboard runs approve; stop rejects)'))
    elif run.get('approval') == 'approved':
        waits = f'; waits: {run["waits_for"]}' if held_back else ''
        rows.insert(3, ('Approval', f'approved by {run.get("approved_by")} {when(run.get("approved_at"))}{waits}'))
    if run.get('expires_at') and run['status'] == 'queued':
        rows.insert(3, ('Expires', f'{when(run["expires_at"])} if it has not started (TTL {run["ttl_seconds"]} s)'))
    if run.get('retry_of'):
        rows.append(('Retry of', run['retry_of']))
    if run.get('retry_planned'):  # its project's rule retries it; the retry is not made yet
        rows.append(('Retry', retry_planned_text(run['retry_planned'])))
    if run.get('retried_by'):
        rows.append(('Retried by', ', '.join(run['retried_by'])))
    if run.get('issue_number'):
        rows.append(('Issue', f'#{run["issue_number"]} {one_line(run.get("issue_title") or "")}'.strip()))
    if run.get('issue_taken_up_by'):  # a later AFK run works on its issue: retry that one, not this
        rows.append(('Issue taken up by', run['issue_taken_up_by']))
    if run.get('commit_sha'):
        rows.append(('Commit', run['commit_sha']))
        if run.get('commit_title'):
            by = f' ({one_line(run["commit_author"])})' if run.get('commit_author') else ''
            rows.append(('Title', f'{one_line(run["commit_title"])}{by}'))
        if run.get('commit_url'):
            rows.append(('Commit page', one_line(run['commit_url'])))
    if run.get('pusher'):
        rows.append(('Pushed by', one_line(run['pusher'])))
    if run.get('pr_number'):
        pull = f'#{run["pr_number"]} {run.get("pr_title") or ""} {run.get("pr_url") or ""}'
        rows.append(('Pull request', one_line(pull.strip())))
    if run.get('variables'):  # the trigger's own, one a line (a value is the triggering person's text)
        rows.append(('Variables', '\n'.join(f'{one_line(k)}={one_line(v)}' for k, v in run['variables'].items())))
    if run.get('usage'):
        rows.append(('Usage', usage_text(run['usage'])))
    if run.get('error'):
        rows.append(('Error', one_line(run['error'])))
    rows += [('Idempotency key', run.get('idempotency_key')), ('Correlation id', run.get('correlation_id'))]
    return key_values(rows)


def usage_text(usage: dict) -> str:
    """`$0.84 · 2,400 in / 600 out tokens · claude-sonnet-4` (what the run's `::usage::` lines summed to)."""
    parts = [f'${usage.get("cost_usd") or 0:,.2f}']
    if usage.get('input_tokens') or usage.get('output_tokens'):
        parts.append(f'{usage.get("input_tokens") or 0:,} in / {usage.get("output_tokens") or 0:,} out tokens')
    if usage.get('model'):
        parts.append(str(usage['model']))
    return ' · '.join(parts)


def seconds_text(seconds: float) -> str:
    """A stage's duration: 2.1s, 42s, 3m05s, 1h02m."""
    if seconds < 10:
        return f'{int(max(0.0, seconds) * 10) / 10:.1f}s'
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f'{hours}h{minutes:02d}m' if hours else (f'{minutes}m{secs:02d}s' if minutes else f'{secs}s')


def stages_table(run: dict) -> Table | None:
    """The run's stages with result and duration (GitHub Actions' step list), None when it has none."""
    stages = run.get('stages') or []
    if not stages:
        return None
    table = Table(header_style='bold', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for column in ('STAGE', 'RESULT', 'TOOK', 'STARTED'):
        table.add_column(column, no_wrap=column != 'STAGE')
    for stage in stages:
        took = seconds_text(stage['seconds']) + (' so far' if stage['result'] == 'running' else '')
        table.add_row(Text(one_line(stage['name'])), status_text(stage['result']), took, when(stage['started_at']))
    hidden = (run.get('stage_count') or 0) - len(stages)
    if hidden > 0:
        table.add_row(Text(f'+{hidden} more stage{"" if hidden == 1 else "s"} (not kept)', style='dim'), '', '', '')
    return table


LEVEL_STYLE = {'error': 'bold red', 'warning': 'bold yellow', 'notice': 'bold blue'}


def annotations_table(run: dict) -> Table | None:
    """The run's annotations (`::error|warning|notice::` lines): level, message, file:line, its log line."""
    annotations = run.get('annotations') or []
    if not annotations:
        return None
    table = Table(header_style='bold', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for column in ('LEVEL', 'MESSAGE', 'WHERE', 'LINE'):
        table.add_column(column, no_wrap=column != 'MESSAGE')
    for a in annotations:
        message = f'{a["title"]}: {a["message"]}' if a.get('title') else a['message']
        where = (f'{a["file"]}:{a["line"]}' if a.get('line') is not None else a['file']) if a.get('file') else ''
        level = Text(one_line(a['level']), style=LEVEL_STYLE.get(a['level'], ''))
        table.add_row(level, Text(one_line(message)), Text(one_line(where)), f'#L{a["seq"]}')
    return table


# C0 controls but tab and newline, DEL and C1: what would reach the terminal as a command, not as text
CONTROLS = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f]')
# the same but ESC and CR, which rich's ANSI decoder reads (sequences; the part after the last CR)
UNDECODED_CONTROLS = re.compile(r'[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f]')
OSC_ENDING_IN_BEL = re.compile(r'(\x1b\][^\x07\x1b]*)\x07')  # rich reads an OSC ended by ST (ESC \) only
# an OSC broken into by another sequence (a terminal drops it): rich would read that sequence into a link's address
OSC_BROKEN_INTO = re.compile(r'\x1b\][^\x07\x1b]*(?=\x1b(?!\\))')
LINE_BREAKS = re.compile(r'\r\n|[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]')


def terminal_text(output: str) -> Text:
    """Pure: an output line as safe terminal text (see event_line)."""
    output = OSC_ENDING_IN_BEL.sub(lambda osc: osc[1] + ST, output)  # before BEL goes with the other controls
    output = OSC_BROKEN_INTO.sub('', UNDECODED_CONTROLS.sub('', output))
    decoded = Text.from_ansi(output, end='')
    if ESC in decoded.plain:  # an unfinished sequence: shown, not sent
        return Text(decoded.plain.replace(ESC, '␛'))
    return decoded


def one_line(written: str) -> str:
    """Pure: a name or title a run wrote (a stage, a group, an annotation, a test, an artifact) as one line of
    inert text: escape sequences and controls dropped, a line break shown as ⏎, so it cannot forge a line."""
    return terminal_text(LINE_BREAKS.sub('⏎', written)).plain


def without_controls(text: str) -> str:
    """Pure: text a run wrote (its Markdown summary), with every control character a terminal would obey dropped."""
    return CONTROLS.sub('', text)


def event_line(event: dict) -> Text:
    """One timeline event as a terminal line. Output is decoded as the run page decodes it (app/state/ansi.py,
    rich's ANSI decoder; never read as markup): colours and links (SGR, OSC 8) become styles, which a terminal
    shows and a pipe or a file gets as plain text; other escape sequences are dropped and a stray ESC is shown
    as ␛, so a run's output cannot move the cursor, retitle or write the clipboard of the person reading it.
    Text before a carriage return is what the run overwrote: the last part is what a terminal would show. Every
    other event is one line of plain text (one_line): a group title cannot forge the next line."""
    stamp = (when(event.get('at')) + '  ', 'dim')
    kind, text = event.get('type'), event['text']
    if kind == 'output':
        return Text.assemble(stamp, terminal_text(text))
    text = one_line(text)  # a stage, a group, an annotation, a status naming a report: one line, no style of its own
    if kind in ('annotation', 'runboard_annotation'):  # the line as printed, in its level's colour
        level = text[2:].split(' ', 1)[0].split(':', 1)[0]
        return Text.assemble(stamp, (text, LEVEL_STYLE.get(level, '')))
    if kind == 'stage':
        return Text.assemble(stamp, ('▶ ' + text, 'bold'))
    if kind == 'group':
        return Text.assemble(stamp, ('▸ ' + text, 'bold'))
    if kind == 'endgroup':
        return Text.assemble(stamp, ('◂ end of group', 'dim'))
    first_word = text.split(' ', 1)[0].rstrip(':,.')
    return Text.assemble(stamp, ('● ' + text, STATUS_STYLE.get(first_word, 'blue')))


def projects_table(projects: Iterable[dict]) -> Table:
    table = Table(header_style='bold', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ('PROJECT', 'NAME', 'BASE', 'ACTIVE', 'AUTO', 'FAILURES', 'READY', 'REPOSITORY'):
        table.add_column(column)
    for p in projects:
        auto = 'paused' if p.get('paused') else ('on' if p.get('auto_enabled') else 'off')
        table.add_row(
            p['id'],
            p['name'],
            p['base_branch'],
            str(p.get('active_runs', 0)),
            auto,
            str(p.get('consecutive_failures', 0)),
            '-' if p.get('ready_count') is None else str(p['ready_count']),
            p['repository'],
        )
    return table


def project_tests(answer: dict) -> Group:
    """`runboard projects tests`: the base branch's coverage (the last figure and its recent runs) and the tests
    that failed lately, flakiest first."""
    parts: list[Any] = []
    points = answer.get('coverage') or []
    if points:
        parts.append(Text(without_controls(coverage_trend_text(answer['coverage_branch'], points))))
        recent = Table(header_style='bold', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in ('RUN', 'DEPTH', 'FRAMEWORK', 'COVERAGE'):
            recent.add_column(column, justify='right' if column == 'COVERAGE' else 'left')
        for point in points[-10:]:
            recent.add_row(
                point['run_id'],
                Text(without_controls(point['depth_level'])),
                Text(without_controls(point['target_framework'])),
                f'{point["percent"]:.2f} %',
            )
        parts.append(recent)
    elif not answer.get('history'):
        return Group(Text('No test or coverage reports yet.'))
    flakiest = answer.get('flakiest') or []
    if answer.get('history'):
        if not flakiest:
            parts.append(Text('No test has failed in the recent runs.'))
        else:
            failing = Table(header_style='bold', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
            for column in ('TEST', 'FLAKY COMMITS', 'FAILED RUNS', 'LAST FAILED'):
                failing.add_column(column)
            for item in flakiest:
                failing.add_row(
                    Text(one_line(item['test_id'])),
                    str(item['flaky_commits']),
                    f'{item["failures"]} of {item["runs"]}',
                    item.get('last_failed_run_id') or '-',
                )
            parts.append(failing)
    return Group(*parts)


def run_caches(caches: dict, *, cleared: bool = False) -> Group:
    """`runboard projects caches`: each cache, whose runs use it and its size; when they were last cleared."""
    head = f'Run caches of {caches["project_id"]}' + (': cleared, the next runs start without' if cleared else '')
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    for name in ('CACHE', 'USED BY', size_heading(caches).upper()):
        table.add_column(name)
    for scope, users, size in cache_rows(caches):
        table.add_row(scope, users, size)
    return Group(Text(head), table, Text(cleared_text(caches)))


def project_badges(badges: dict) -> Text:
    """Plain Text (the Markdown's [brackets] are not rich markup), lines whole however narrow the terminal, so the
    addresses copy as they are."""
    project = badges['project_id']
    if not badges['enabled']:
        return Text(f'Badges of {project} are off (runboard projects badges {project} --new).')
    return Text(
        f'Build:    {badges["status_url"]}\nCoverage: {badges["coverage_url"]}\n'
        f'(branch {badges["branch"]}; add ?branch=NAME for another)\n\nMarkdown:\n{badges["markdown"]}',
        no_wrap=True,
        overflow='ignore',
    )


def project_details(p: dict) -> Table:
    auto = 'paused' if p.get('paused') else ('on' if p.get('auto_enabled') else 'off')
    return key_values(
        [
            ('Project', p['id']),
            ('Name', p['name']),
            ('Team', p.get('team_id')),
            ('Repository', p['repository']),
            ('Credentials', p.get('credentials_kind') or 'none'),
            ('Base branch', p['base_branch']),
            ('Command', ' '.join(p.get('command') or [])),
            ('Depth levels', ', '.join(p.get('depth_levels') or [])),
            ('Frameworks', ', '.join(p.get('target_frameworks') or [])),
            ('Max concurrent runs', p.get('max_concurrent_runs')),
            ('Run budget', f'{p["run_budget_seconds"]} s' if p.get('run_budget_seconds') else 'default'),
            ('Runs on', ', '.join(p.get('runs_on') or []) or 'any worker'),
            ('Automatic retries', auto_retry_text(p)),
            ('Approvals', approval_text(p)),
            (
                'Protected branches',
                ', '.join(p.get('protected_branches') or []) or f'{p["base_branch"]} (the base branch)',
            ),
            ('Log retention', f'{p["log_retention_days"]} days' if p.get('log_retention_days') else "the server's"),
            ('Memory limit per run', memory_text(p['run_memory_max']) if p.get('run_memory_max') else "the server's"),
            ('CPUs per run', f'{p["run_cpus"]:g}' if p.get('run_cpus') else "the server's"),
            ('Active runs', p.get('active_runs', 0)),
            ('Auto-loop', auto),
            ('Consecutive failures', p.get('consecutive_failures', 0)),
            ('Ready issues', p.get('ready_count')),
            ('Parked issues', p.get('parked_count', 0)),
            ('Issue source', (p.get('issue_source') or {}).get('kind', 'local')),
            ('AFK cost cap', cost_cap_text(p)),
            ('On push', on_push_text(p)),
        ]
    )


def approval_text(p: dict) -> str:
    """Whether the protected branches' runs by builders wait for an operator."""
    if not p.get('approval_required'):
        return 'none asked'
    branches = ', '.join(p.get('protected_branches') or []) or p['base_branch']
    return f"{branches}'s runs by builders wait for an operator"


def auto_retry_text(p: dict) -> str:
    """`up to 2 when it crashed or timed out`, `never`."""
    retries = p.get('auto_retry') or 0
    if not retries:
        return 'never'
    ends = [status.replace('_', ' ') for status in p.get('auto_retry_on') or []]
    return f'up to {retries} when it ' + ' or '.join(ends)


def cost_cap_text(p: dict) -> str:
    """`$20.00 a day`, `$1.00 a day (reached today: the loop waits for 00:00 UTC or Reset)`, `none`."""
    cap = p.get('afk_cost_cap_usd_per_day')
    if cap is None:
        return 'none'
    today = datetime.now(UTC).date().isoformat()
    reached = ' (reached today: the loop waits for 00:00 UTC or Reset)' if p.get('afk_cost_capped_on') == today else ''
    return f'${float(cap):,.2f} a day{reached}'


def on_push_text(p: dict) -> str:
    """A project's push rules in one line: `main, release/* (deep/go; pull requests too; hook secret set)`."""
    rules = p.get('on_push') or None
    if not rules or not rules.get('enabled', True):
        return 'off'
    matrix = rules.get('matrix')
    runs = (
        ' × '.join(', '.join(values) for values in matrix.values())
        if matrix
        else f'{rules.get("depth_level") or "first depth"}/{rules.get("target_framework") or "first framework"}'
    )
    extras = [runs]
    if rules.get('paths'):
        extras.append('paths ' + ', '.join(rules['paths']))
    if rules.get('pull_requests'):
        extras.append('pull requests too')
    extras.append('hook secret set' if p.get('has_hook_secret') else 'no hook secret (mirror fetches only)')
    return f'{", ".join(rules.get("branches") or [])} ({"; ".join(extras)})'


def repository_state(r: dict) -> Table:
    fetched = r.get('fetched_at')
    return key_values(
        [
            ('Repository', r['display']),
            ('Kind', r['kind'] + (' (mirrored)' if r.get('remote') else ' (read in place)')),
            ('Credentials', r.get('credentials_kind') or 'none'),
            ('Last good fetch', fetched or ('never' if r.get('remote') else '-')),
            ('Fetch took', f'{r["fetch_seconds"]:.2f} s' if r.get('fetch_seconds') is not None else '-'),
            ('Last error', f'{r["error"]} [{r.get("error_code")}]' if r.get('error') else 'none'),
        ]
    )


def loop_state_text(p: dict, today: str) -> str:
    """Pure: whether the auto-loop launches, and when it does not although it is on, why and what ends it (a failure
    pause, a command that could not start, today's cost cap). `today`: the UTC day, YYYY-MM-DD."""
    if p.get('paused'):
        return f'paused after {p.get("consecutive_failures")} consecutive AFK failures: it waits for Reset'
    if not p.get('auto_enabled'):
        return 'off'
    if p.get('launch_error'):
        cause = str(p['launch_error']).removeprefix('launch_failed: ')
        return f"on, waiting: {cause} (fix the project's command, then Reset)"
    if p.get('afk_cost_cap_usd_per_day') is not None and p.get('afk_cost_capped_on') == today:
        return 'on, waiting: the cost cap was reached today (resumes at 00:00 UTC or on Reset)'
    return 'on'


def afk_status(p: dict) -> Table:
    return key_values(
        [
            ('Project', p['id']),
            ('Auto-loop', loop_state_text(p, datetime.now(UTC).date().isoformat())),
            ('Consecutive failures', p.get('consecutive_failures', 0)),
            ('Paused', 'yes' if p.get('paused') else 'no'),
            ('AFK cost cap', cost_cap_text(p)),
            ('Ready issues', p.get('ready_count')),
            ('Parked issues', p.get('parked_count', 0)),
            ('Active runs', p.get('active_runs', 0)),
        ]
    )


def afk_summary(summary: dict) -> Group:
    """`runboard afk summary`: the window, what ran and what it cost, what happened to the loop, the issues one row
    each (every run's id to paste, its outcome, why and cost), the ready issues not tried yet."""
    parts: list[Any] = [
        key_values(
            [
                ('Project', summary['project_id']),
                ('Since', f'{when(summary["since"])} (until {when(summary["until"])})'),
                ('Runs', summary_view.outcomes_text(summary)),
                ('Cost', summary_view.cost_text(summary)),
                ('Now', summary_view.loop_state_text(summary).removeprefix('Auto-loop now: ')),
            ]
        )
    ]
    for event in summary.get('events') or []:
        parts.append(Text(f'{when(event["at"])}  {summary_view.event_text(event)}'))
    if replay := summary_view.cap_replay_text(summary):
        parts.append(Text(replay, style='yellow'))
    if summary.get('issues'):
        table = Table(header_style='bold', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        for column in ('#', 'ISSUE', 'OUTCOME', 'NOW', 'COST', 'RUNS', 'DETAILS'):
            # a run id cut short cannot be pasted
            table.add_column(column, no_wrap=column in ('#', 'RUNS', 'COST'), overflow='fold')
        for issue in summary['issues']:
            table.add_row(
                str(issue['number']),
                escape(one_line(issue.get('title') or '')),
                status_text(issue['outcome'])
                if issue['outcome'] in STATUS_STYLE
                else Text(summary_view.outcome_word(issue['outcome']), style='red'),
                summary_view.claim_text(issue),
                summary_view.money(issue.get('cost_usd')),
                '\n'.join(r['id'] for r in issue['runs']),
                escape('\n'.join(summary_view.issue_details(issue)) or '-'),
            )
        parts.append(table)
    parts.append(Text(summary_view.untried_text(summary)))
    parts += [Text(f'Could not read: {problem}', style='yellow') for problem in summary.get('problems') or []]
    return Group(*parts)


def issues_table(issues: Iterable[dict]) -> Table:
    table = Table(header_style='bold', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in ('#', 'TITLE', 'STATE', 'LABELS', 'READY', 'CLAIM'):
        # a run id cut short cannot be pasted; a label is folded onto the next line rather than cut
        table.add_column(column, no_wrap=column == 'CLAIM', overflow='fold' if column == 'LABELS' else 'ellipsis')
    for issue in issues:
        claim = issue.get('claim')
        claim_text = (
            '-'
            if not claim
            else (
                claim
                if isinstance(claim, str)
                else '\n'.join(str(claim.get(k)) for k in ('state', 'run_id') if claim.get(k))
            )
        )
        table.add_row(
            str(issue['number']),
            Text(one_line(issue['title'])),  # anyone who files an issue writes it: no markup, no escapes
            issue.get('state', ''),
            ', '.join(issue.get('labels') or []),
            'yes' if issue.get('ready') else 'no',
            claim_text,
        )
    return table


def quota_table(q: dict) -> Table:
    return key_values(
        [
            ('Runs left', f'{q["remaining"]} of {q["limit"]}'),
            ('Window', f'{q["window_seconds"]} s'),
            ('Resets', when(q.get('resets_at'))),
            ('Retry after', f'{q["retry_after_seconds"]} s' if q.get('retry_after_seconds') else '-'),
        ]
    )


PIPED_WIDTH = 4096  # no line of a table is this wide: piped, every column stays and no cell is cut


def stdout_console() -> Console:
    """In a terminal, its width (narrow: fewer whole columns); piped to a file or another program (`| grep`), every
    column with every cell whole, as kubectl's and gh's tables are, unless COLUMNS says a width."""
    console = StdoutConsole(highlight=False, soft_wrap=True)
    if not console.is_terminal and 'COLUMNS' not in os.environ:
        console.width = PIPED_WIDTH
    return console


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)
