"""The runs list's bulk selection: which rows are picked (or "all matching this filter"), the one
Idempotency-Key of the action being sent (kept for a resend after an error, new for a new selection), and
what each row says afterwards. Pure."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

DONE_WORDS = {'stop': 'stop requested', 'retry': 'retried', 'approve': 'approved'}
VERBS = {'stop': 'Stop', 'retry': 'Retry', 'approve': 'Approve'}
# the summary's words for the runs acted on: a Stop only asks (a running run ends when its process does, and the
# answer does not say which had ended by then), so it says what the rows say
PAST = {'stop': 'stop requested', 'retry': 'retried', 'approve': 'approved'}
RULES = {
    'stop': 'only active runs stop',
    'retry': 'only ended ones retry',
    'approve': "only runs waiting for an operator's approval are approved",
}


@dataclass
class BulkSelection:
    selecting: bool = False
    picked: dict[str, None] = field(default_factory=dict)  # run ids, in the order picked
    all_matching: bool = False  # the whole filter, resolved by the server when the action starts
    key: str | None = None  # of the action last sent, until it is answered
    sent: tuple[str, str] | None = None  # (action, the body's JSON) the key was minted for
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> the server's answer for it

    def toggle(self, run_id: str) -> None:
        self.all_matching = False
        if run_id in self.picked:
            del self.picked[run_id]
        else:
            self.picked[run_id] = None

    def pick_all_matching(self) -> None:
        self.all_matching, self.picked = True, {}

    def clear(self) -> None:
        self.picked, self.all_matching = {}, False

    @property
    def count_text(self) -> str:
        if self.all_matching:
            return 'All runs matching these filters'
        n = len(self.picked)
        return f'{n} run{"" if n == 1 else "s"} selected' if n else 'Select runs, or all matching these filters'

    @property
    def can_act(self) -> bool:
        return self.all_matching or bool(self.picked)

    def request(self, action: str, filters: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """The POST /runs/bulk body and its key: the same key for a resend of the same body (action, selection and,
        for all matching, the filters); a new one when any of them changed, as the server refuses a key reused for
        another body."""
        if self.all_matching:
            body: dict[str, Any] = {'action': action, 'filter': {k: v for k, v in filters.items() if v}}
            if isinstance(body['filter'].get('status'), str):
                body['filter']['status'] = [body['filter']['status']]
        else:
            body = {'action': action, 'run_ids': list(self.picked)}
        what = (action, json.dumps(body, sort_keys=True, default=str))
        if self.key is None or self.sent != what:
            self.key, self.sent = f'bulk-{uuid.uuid4()}', what
        return body, self.key

    def answered(self, answer: dict[str, Any]) -> None:
        """The server's per-run answer: rows show it; the next action gets a new key."""
        self.outcomes = {item['run_id']: {**item, 'action': answer['action']} for item in answer['items']}
        self.key = self.sent = None
        self.clear()


def confirm_text(action: str, selection: BulkSelection, *, shown: int, more: bool) -> str:
    """The question before a bulk action, with how many runs it touches: `shown` real rows of the list match
    the filters, and `more` says older ones exist beyond them (the server resolves those when it acts)."""
    verb = VERBS[action]
    if selection.all_matching:
        runs = f'run{"" if shown == 1 else "s"}'
        what = (
            f'the {shown} {runs} shown and every older one matching these filters'
            if more
            else f'all {shown} {runs} matching these filters'
        )
    else:
        n = len(selection.picked)
        what = f'{n} selected run{"" if n == 1 else "s"}'
    return f'{verb} {what}? Each run follows its own rules ({RULES[action]}).'


def outcome_text(item: dict[str, Any]) -> str:
    text: str = DONE_WORDS[item['action']] if item['outcome'] == 'done' else item['outcome']
    if item.get('new_run_id'):
        text += f' as {item["new_run_id"]}'
    if item.get('reason') and item['outcome'] != 'done':
        text += f': {item["reason"]}'
    return text


def summary_text(answer: dict[str, Any]) -> str:
    counts = answer['summary']
    return f'{counts["done"]} {PAST[answer["action"]]}, {counts["skipped"]} skipped, {counts["refused"]} refused'
