"""Pure: a refused form submission, as messages beside the fields they belong to. The server's problem+json
says which field: a 422 from request validation lists `errors` ([{field, message, type}], field paths like
`command` or `credentials.secret`); a refusal from the domain names one `field` with its `detail`. A form shows
each message next to its own box and the rest above the Save button; the rules stay the server's."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

GENERAL = ''  # the key of messages that belong to no field of the form


def humane(message: str, kind: str = '') -> str:
    """Pydantic's wording, as a sentence a person reads beside a field."""
    if kind == 'missing' or (kind == 'string_too_short' and 'at least 1 character' in message):
        return 'Required.'
    for prefix in ('Value error, ', 'Assertion failed, '):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    message = message.strip() or 'Not valid.'
    message = message[0].upper() + message[1:]
    return message if message.endswith(('.', '!', '?')) else message + '.'


def field_of(path: str, fields: Iterable[str]) -> str:
    """The form field a problem path belongs to: 'credentials.secret' -> 'credentials', 'command.0' ->
    'command'; GENERAL when the form has no such field."""
    known = set(fields)
    parts = path.split('.') if path else []
    for end in range(len(parts), 0, -1):
        candidate = '.'.join(parts[:end])
        if candidate in known:
            return candidate
    return GENERAL


def field_errors(status: int, body: Mapping[str, Any], fields: Iterable[str], *, conflict_field: str = '') -> dict:
    """field -> message for one refused submission (first message per field). A 409 `conflict` without a
    field goes to `conflict_field` (e.g. the id of a project that already exists)."""
    fields = tuple(fields)
    found: dict[str, str] = {}
    for error in body.get('errors') or []:
        if isinstance(error, Mapping):
            key = field_of(str(error.get('field') or ''), fields)
            found.setdefault(key, humane(str(error.get('message') or ''), str(error.get('type') or '')))
    detail = str(body.get('detail') or '')
    if not found and body.get('field'):
        key = field_of(str(body['field']), fields)
        found[key] = humane(_without_field_name(detail, str(body['field'])))
    if not found and status == 409 and body.get('error') == 'conflict' and conflict_field in fields:
        found[conflict_field] = humane(detail)
    return found


def _without_field_name(detail: str, field: str) -> str:
    """Beside its box a message need not name the field: 'team_id: choose one of your teams' reads 'choose one
    of your teams', 'max_concurrent_runs cannot be null' reads 'Required'."""
    for prefix in (f'{field}: ', f'{field} '):
        if detail.startswith(prefix):
            rest = detail[len(prefix) :]
            return 'Required.' if rest == 'cannot be null' else rest
    return detail


def delete_refusal(body: Mapping[str, Any], project_name: str) -> str:
    """Why a project was not deleted, in words (409 project_busy lists the runs still active)."""
    runs = list(body.get('blocking_runs') or [])
    if body.get('error') == 'project_busy' or runs:
        count = len(runs)
        which = f'{count} run is' if count == 1 else f'{count} runs are' if count else 'runs are'
        return (
            f'{project_name} was not deleted: {which} still queued or running. Stop '
            f'{"it" if count == 1 else "them"} (or wait until they finish), then delete again.'
        )
    return f'{project_name} was not deleted: {body.get("detail") or "the server refused it."}'
