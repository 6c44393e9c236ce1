"""The audit log page's filters (kept in the URL) and how an entry reads. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from app.models.vocabulary import AUDIT_ACTIONS

ANY_ACTION = 'Any action'
GROUPS = {
    'run': 'Runs',
    'afk': 'AFK loop',
    'project': 'Projects',
    'schedule': 'Schedules',
    'webhook': 'Webhooks',
    'token': 'Tokens',
    'person': 'People',
}
VERBS = {
    'run.triggered': 'triggered run',
    'run.retried': 'retried as run',
    'run.stopped': 'stopped run',
    'run.approved': 'approved run',
    'run.pushed': 'started on a push: run',
    'run.pull_request': 'started on a pull request: run',
    'afk.started': 'started AFK run',
    'afk.enabled': 'switched auto on for',
    'afk.disabled': 'switched auto off for',
    'afk.reset': 'reset the AFK pause of',
    'project.created': 'created project',
    'project.updated': 'changed project',
    'project.deleted': 'deleted project',
    'project.hook_secret_rotated': 'replaced the hook secret of',
    'project.badge_key_rotated': 'gave new badge addresses to',
    'project.badges_removed': 'turned off the badges of',
    'project.caches_cleared': 'cleared the run caches of',
    'project.variable.set': 'set a variable of',
    'project.variable.removed': 'removed a variable of',
    'project.secret.set': 'set a secret of',
    'project.secret.removed': 'removed a secret of',
    'token.created': 'created token',
    'token.revoked': 'revoked token',
    'person.created': 'added person',
    'person.role_changed': 'changed the role of',
    'person.removed': 'removed person',
    'schedule.created': 'created schedule',
    'schedule.updated': 'changed schedule',
    'schedule.paused': 'paused schedule',
    'schedule.resumed': 'resumed schedule',
    'schedule.deleted': 'deleted schedule',
    'schedule.fired': 'scheduled run',
    'webhook.created': 'added webhook',
    'webhook.updated': 'changed webhook',
    'webhook.secret_rotated': 'replaced the secret of webhook',
    'webhook.deleted': 'deleted webhook',
}


def action_choices(actions: tuple[str, ...] = AUDIT_ACTIONS) -> dict[str, str]:
    """The Action filter's choices, value → label, in the order a person scans them: each group ("Projects › any"),
    then its actions ("Projects › created"), a finer group ("Projects › variable › any") just before its own
    actions ("Projects › variable › set"). Every value is one the API's `action` filter takes."""
    choices = {'': ANY_ACTION}
    for group in dict.fromkeys([*GROUPS, *(action.split('.')[0] for action in actions)]):
        mine = [action for action in actions if action.split('.')[0] == group]
        if not mine:
            continue
        label = GROUPS.get(group) or _words(group).capitalize()
        choices[group] = f'{label} › any'
        for action in mine:
            *finer, verb = action.split('.')[1:]
            path = ' › '.join([label, *map(_words, finer)])
            if finer and (sub := action.rsplit('.', 1)[0]) not in choices:
                choices[sub] = f'{path} › any'
            choices[action] = f'{path} › {_words(verb)}'
    return choices


def _words(name: str) -> str:
    return name.replace('_', ' ')


@dataclass(frozen=True)
class AuditFilters:
    action: str | None = None
    actor: str | None = None
    project: str | None = None
    since: str | None = None
    until: str | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> AuditFilters:
        return cls(**{f.name: (query.get(f.name) or '').strip() or None for f in fields(cls)})

    def query(self) -> dict[str, str]:
        return {f.name: value for f in fields(self) if (value := getattr(self, f.name))}


def target_link(entry: Mapping[str, Any]) -> tuple[str, str | None]:
    """(text, link) of what an entry acted on: runs and projects link to their pages."""
    target = entry.get('target') or entry.get('project_id') or ''
    if target.startswith('run_'):
        return target, f'/runs/{target}'
    if (
        entry['action'].startswith(('project.', 'afk.'))
        and entry.get('project_id')
        and entry['action'] != 'project.deleted'
    ):
        return entry['project_id'], f'/projects/{entry["project_id"]}'
    return target, None


def sentence(entry: Mapping[str, Any]) -> str:
    """'ann stopped run run_01…' (the target is drawn as a link after it)."""
    if entry['action'] == 'run.retried' and (entry.get('details') or {}).get('automatic'):
        return f"the project's auto-retry rule retried {entry['actor_name']}'s run as run"
    return f'{entry["actor_name"]} {VERBS.get(entry["action"], entry["action"])}'


def details_text(entry: Mapping[str, Any]) -> str:
    details = dict(entry.get('details') or {})
    changed = details.pop('changed', None)
    details.pop('automatic', None)  # said by the sentence
    parts = [f'{k} → {_value(v)}' for k, v in (changed or {}).items()]
    parts += [f'{k}: {_value(v)}' for k, v in details.items()]
    return ', '.join(parts)


def _value(value: Any) -> str:
    """A detail as a person reads it: lists as words, not Python's repr."""
    if isinstance(value, list | tuple):
        return ' '.join(_value(v) for v in value) if value else 'none'
    if isinstance(value, dict):
        return ' '.join(f'{k}={_value(v)}' for k, v in value.items()) or 'none'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    return 'none' if value is None else str(value)
