"""An AFK run as its reviewer reads it, for the run page (pages/afk_review.py): GET /api/afk/runs/{id}/review read
through app.client, and the pure words and HTML the panel shows. No NiceGUI here.

The issue's body is Markdown somebody else wrote: it is rendered by app/state/markdown.py, and the page hands the
result to DOMPurify as well."""

from __future__ import annotations

import html
from typing import Any

from app.client import ApiError, RunboardClient

CHECK_ICONS = {
    'success': ('check_circle', 'positive'),
    'failure': ('cancel', 'negative'),
    'error': ('error', 'negative'),
}
PR_COLORS = {'open': 'green-9', 'merged': 'purple-8', 'closed': 'red-8'}


def patch_html(patch: str) -> str:
    """A file's diff as one `<pre>`: each line a span, added lines `add`, removed `del`; every character escaped."""
    rows = []
    for line in patch.splitlines():
        kind = 'add' if line.startswith('+') and not line.startswith('+++') else ''
        kind = 'del' if line.startswith('-') and not line.startswith('---') else kind
        rows.append(f'<span class="{kind}" data-diff-line>{html.escape(line) or " "}</span>')
    return '<pre class="rb-diff">' + ''.join(rows) + '</pre>'  # spans are blocks: a line each


def check_look(state: str) -> tuple[str, str]:
    """(icon, colour) of a commit status: pending and warning look the same, amber."""
    return CHECK_ICONS.get(state, ('schedule', 'orange-9'))


def checks_summary(checks: list[dict[str, Any]]) -> str:
    """`2 checks: 1 passed, 1 failed` (or `no checks`)."""
    if not checks:
        return 'no checks'
    passed = sum(1 for c in checks if c.get('state') == 'success')
    failed = sum(1 for c in checks if c.get('state') in ('failure', 'error'))
    pending = len(checks) - passed - failed
    parts = [f'{n} {word}' for n, word in ((passed, 'passed'), (failed, 'failed'), (pending, 'pending')) if n]
    return f'{len(checks)} check{"s" if len(checks) != 1 else ""}: ' + ', '.join(parts)


def diff_summary(diff: dict[str, Any]) -> str:
    """`2 files changed · +3 −1 · from the forge` (the numbers a reviewer reads first)."""
    files = len(diff.get('files') or [])
    where = 'from the forge' if diff.get('source') == 'forge' else f'git diff {diff.get("base") or ""}...{diff["head"]}'
    more = ' (more not shown)' if diff.get('truncated') else ''
    return (
        f'{files} file{"s" if files != 1 else ""} changed{more} · '
        f'+{diff.get("additions", 0)} −{diff.get("deletions", 0)} · {where}'
    )


def usage_text(usage: dict[str, Any] | None) -> str | None:
    """`$0.84 · 2,400 in / 600 out tokens · m-1` (what the run's `::usage::` lines summed to), or None."""
    if not usage:
        return None
    parts = [f'${usage.get("cost_usd") or 0:,.2f}']
    if usage.get('input_tokens') or usage.get('output_tokens'):
        parts.append(f'{usage.get("input_tokens") or 0:,} in / {usage.get("output_tokens") or 0:,} out tokens')
    if usage.get('model'):
        parts.append(str(usage['model']))
    return ' · '.join(parts)


async def load(client: RunboardClient, run_id: str) -> tuple[dict | None, str | None]:
    """(the review, None) or (None, why it could not be read)."""
    try:
        return (await client.request('GET', f'/afk/runs/{run_id}/review')).data, None
    except ApiError as exc:
        return None, str(exc)
