"""`runboard projects history` for a person: the newest finished runs, the success rate over the window and
a one-line chart of it per day (JSON output bypasses this module)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from app.cli import render

BLOCKS = '▁▂▃▄▅▆▇█'


def local_utc_offset() -> int:
    """Minutes east of UTC of this machine now: the days are counted as the person's calendar has them."""
    offset = datetime.now().astimezone().utcoffset()
    return int(offset.total_seconds() // 60) if offset else 0


def rate_blocks(days: list[dict[str, Any]]) -> str:
    """Pure: one character per day, oldest first: a block as high as that day's success rate, '·' for a day
    without a verdict (no runs, or only stopped ones)."""
    marks = []
    for day in days:
        rate = day.get('success_rate')
        marks.append('·' if rate is None else BLOCKS[min(len(BLOCKS) - 1, int(rate * len(BLOCKS)))])
    return ''.join(marks)


def rate_line(totals: dict[str, Any], days: int) -> str:
    """Pure: 'Success rate, last 30 days: 67 % (4 of 6 runs with a verdict; 1 stopped)'."""
    head = f'Success rate, last {days} days: '
    if not totals['finished']:
        return head + 'no finished runs'
    verdicts = totals['succeeded'] + totals['failed']
    stopped = f'; {totals["stopped"]} stopped' if totals['stopped'] else ''
    if not verdicts:
        return head + f'no verdict ({totals["stopped"]} stopped)'
    return head + f'{round(totals["success_rate"] * 100)} % ({totals["succeeded"]} of {verdicts} runs{stopped})'


def history(answer: dict[str, Any]) -> Group:
    days = answer['days']
    table = Table(header_style='bold', box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for column in ('RUN', 'STATUS', 'BRANCH', 'KIND', 'CREATED', 'TOOK'):
        table.add_column(column, no_wrap=column != 'BRANCH')
    for run in answer['runs']:
        table.add_row(
            run['id'],
            render.status_text(run['status']),
            run['branch_name'],
            run['kind'],
            render.when(run['created_at']),
            render.duration(run),
        )
    scope = f'branch {answer["branch"]} of ' if answer.get('branch') else ''
    title = Text(f'Newest finished runs of {scope}{answer["project_id"]}', style='bold')
    runs: Any = table if answer['runs'] else Text('No finished runs yet.')
    chart = Text(f'{days[0]["day"]} {rate_blocks(days)} {days[-1]["day"]}') if days else Text('')
    return Group(title, runs, Text(''), Text(rate_line(answer['totals'], len(days))), chart)
