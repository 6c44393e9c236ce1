"""Pure: the project form of the New project and Settings pages. A ProjectDraft is the text in the form's boxes;
`create_body` and `update_body` turn it into the POST / PATCH body (a PATCH names only what changed), parsing
what a text box cannot hold as typed (form_text.py). Whether the values are acceptable is the server's call:
its 422 comes back as messages beside the fields (form_problems.py). Secrets are write-only: a stored git
credential or forge token is never shown; an empty secret box keeps the stored one."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ByteSize, TypeAdapter, ValidationError

from app.models.vocabulary import AUTO_RETRY_DEFAULT
from app.state.form_text import (
    CommandMode,
    command_text,
    duration_text,
    fits_lines,
    names_text,
    parse_command,
    parse_duration,
    split_names,
    whole_number,
)

# the form's fields, named as the API names them (so a problem's field path finds its box)
FIELDS = (
    'id',
    'team_id',
    'name',
    'repository',
    'base_branch',
    'credentials',
    'command',
    'depth_levels',
    'target_frameworks',
    'runs_on',
    'max_concurrent_runs',
    'run_budget_seconds',
    'queued_ttl_seconds',
    'issue_source',
    'afk_cost_cap_usd_per_day',
    'afk_cost_cap_stops_runs',
    'auto_retry',
    'auto_retry_on',
    'log_retention_days',
    'run_memory_max',
    'run_cpus',
)
MASK = '********'  # how the API shows a stored forge token; sent back, it means "keep it"
SOURCE_KINDS = {'local': 'Runboard backlog', 'gitea': 'Gitea', 'forgejo': 'Forgejo', 'github': 'GitHub'}
FORGE_FIELDS = ('api_url', 'owner', 'repo', 'token_env', 'label')
AUTO_RETRY_CHOICES = {0: 'Never', 1: 'Once', 2: 'Twice', 3: 'Three times'}
AUTO_RETRY_ON = {'crashed': 'it crashed', 'timed_out': 'it timed out', 'failed': 'it failed'}
CredentialsChoice = Literal['keep', 'none', 'token', 'ssh_key']
CREDENTIAL_CHOICES = {'keep': 'Keep as they are', 'none': 'None', 'token': 'HTTPS token', 'ssh_key': 'SSH private key'}


@dataclass
class ProjectDraft:
    id: str = ''
    team_id: str | None = None
    name: str = ''
    repository: str = ''
    base_branch: str = 'main'
    command: str = ''
    command_mode: CommandMode = 'line'
    depth_levels: str = 'shallow, standard, deep'
    target_frameworks: str = 'python, node, go'
    runs_on: str = ''
    max_concurrent_runs: float | int | str | None = 2
    run_budget: str = ''  # empty: the server's RUNBOARD_RUN_BUDGET_SECONDS
    queued_ttl: str = ''  # empty: queued runs wait for ever
    afk_cost_cap: str = ''  # USD per UTC day; empty: no cap (docs/afk.md, "Cost")
    afk_cost_cap_stops_runs: bool = False  # an AFK run passing the cap while it runs is stopped
    log_retention: float | int | str | None = None  # days; empty: the server's RUNBOARD_LOG_RETENTION_DAYS
    run_memory: str = ''  # its runs' memory limit, e.g. 4GiB; empty: the server's RUNBOARD_RUN_MEMORY_MAX
    run_cpus: str = ''  # its runs' CPU limit in cores, e.g. 1.5; empty: the server's RUNBOARD_RUN_CPUS
    auto_retry: int = 0  # automatic retries of a run that ended in one of auto_retry_on (docs/pipelines.md)
    auto_retry_on: list[str] = field(default_factory=lambda: list(AUTO_RETRY_DEFAULT))
    source_kind: str = 'local'
    source: dict[str, str] = field(default_factory=dict)  # the forge fields (FORGE_FIELDS)
    source_token: str = ''  # write-only; empty keeps a stored one
    source_has_token: bool = False
    source_extra: dict[str, Any] = field(default_factory=dict)  # issue_source keys this form does not edit
    credentials: CredentialsChoice = 'none'
    credentials_username: str = ''
    credentials_secret: str = ''


def draft_from(project: dict[str, Any]) -> ProjectDraft:
    """The form filled with a project as the API answers it."""
    argv = list(project.get('command') or [])
    mode = command_mode_for(argv)
    source = dict(project.get('issue_source') or {})
    return ProjectDraft(
        id=project['id'],
        team_id=project.get('team_id'),
        name=project.get('name') or '',
        repository=project.get('repository') or '',
        base_branch=project.get('base_branch') or '',
        command=command_text(argv, mode),
        command_mode=mode,
        depth_levels=names_text(project.get('depth_levels')),
        target_frameworks=names_text(project.get('target_frameworks')),
        runs_on=names_text(project.get('runs_on')),
        max_concurrent_runs=project.get('max_concurrent_runs'),
        run_budget=duration_text(project.get('run_budget_seconds')),
        queued_ttl=duration_text(project.get('queued_ttl_seconds')),
        afk_cost_cap=cost_cap_text(project.get('afk_cost_cap_usd_per_day')),
        afk_cost_cap_stops_runs=bool(project.get('afk_cost_cap_stops_runs')),
        log_retention=project.get('log_retention_days'),
        run_memory=memory_input_text(project.get('run_memory_max')),
        run_cpus=cpus_input_text(project.get('run_cpus')),
        auto_retry=int(project.get('auto_retry') or 0),
        auto_retry_on=list(project.get('auto_retry_on') or AUTO_RETRY_DEFAULT),
        source_kind=str(source.get('kind') or 'local'),
        source={k: str(source[k]) for k in FORGE_FIELDS if source.get(k) not in (None, '')},
        source_has_token=bool(source.get('token')),
        source_extra={k: v for k, v in source.items() if k not in (*FORGE_FIELDS, 'kind', 'token')},
        credentials='keep',
    )


def cost_cap_text(cap: float | None) -> str:
    """`20.00` for a $20 cap; empty for none."""
    return '' if cap is None else f'{float(cap):.2f}'


def parse_cost_cap(text: str) -> float | None:
    """The daily AFK cost cap typed in the box: `20`, `$20.00`, `1,000` (empty: no cap)."""
    cleaned = text.strip().removeprefix('$').replace(',', '').strip()
    if not cleaned:
        return None
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError('Enter an amount in US dollars, like 20 or 20.00; leave it empty for no cap.') from None
    if not 0.01 <= value <= 1_000_000:  # also NaN
        raise ValueError('The cap is between $0.01 and $1,000,000 a day; leave it empty for no cap.')
    return round(value, 2)


def parse_memory(text: str) -> int | None:
    """A memory limit typed in the box: `4GiB`, `512MiB`, `4 GB` (empty: the server's), in bytes."""
    if not text.strip():
        return None
    try:
        size = int(TypeAdapter(ByteSize).validate_python(text.strip()))
    except ValidationError:
        raise ValueError("Enter a size like 4GiB or 512MiB; leave it empty for the server's limit.") from None
    if size < 1024**2:
        raise ValueError('A memory limit is at least 1MiB.')
    return size


def memory_input_text(size: int | None) -> str:
    """A stored memory limit as the box shows it: `4GiB`, `512MiB` (parse_memory reads it back to the same bytes)."""
    if not size:
        return ''
    for unit, scale in (('GiB', 1024**3), ('MiB', 1024**2), ('KiB', 1024)):
        if size % scale == 0:
            return f'{size // scale}{unit}'
    return str(size)


def parse_cpus(text: str) -> float | None:
    """A CPU limit typed in the box, in cores: `2`, `1.5`, `0,5` (empty: the server's)."""
    if not text.strip():
        return None
    try:
        cpus = float(text.strip().replace(',', '.'))
    except ValueError:
        raise ValueError("Enter a number of cores like 2 or 1.5; leave it empty for the server's limit.") from None
    if not 0.01 <= cpus <= 1024:
        raise ValueError('A CPU limit is between 0.01 and 1024 cores.')
    return cpus


# what the Settings form calls each field it sends (its boxes' labels), for what a save says it saved
FIELD_LABELS = {
    'name': 'name',
    'repository': 'repository',
    'base_branch': 'base branch',
    'credentials': 'Git credentials',
    'command': 'command',
    'depth_levels': 'depth levels',
    'target_frameworks': 'target frameworks',
    'runs_on': 'runner labels',
    'max_concurrent_runs': 'max concurrent runs',
    'run_budget_seconds': 'run budget',
    'queued_ttl_seconds': 'queued run expiry',
    'auto_retry': 'automatic retries',
    'auto_retry_on': 'when a run is retried',
    'log_retention_days': 'log retention',
    'run_memory_max': 'memory limit per run',
    'run_cpus': 'CPUs per run',
    'issue_source': 'issue source',
    'afk_cost_cap_usd_per_day': 'AFK cost cap',
    'afk_cost_cap_stops_runs': 'stopping AFK runs past the cap',
}


def saved_text(fields: Collection[str]) -> str:
    """Pure: what a save of the Settings form changed, in the form's words and order ('Saved max concurrent runs and
    run budget.')."""
    order = list(FIELD_LABELS)
    named = [FIELD_LABELS.get(f, f) for f in sorted(fields, key=lambda f: order.index(f) if f in order else len(order))]
    listed = named[0] if len(named) == 1 else f'{", ".join(named[:-1])} and {named[-1]}'
    return f'Saved {listed}.'


def cpus_input_text(cpus: float | None) -> str:
    """A stored CPU limit as the box shows it, whole (`2`, `0.33333333`): parse_cpus reads it back to the same
    float, so a save of another field does not send it rounded."""
    if not cpus:
        return ''
    text = repr(float(cpus))
    return text.removesuffix('.0')


def command_mode_for(argv: list[str]) -> CommandMode:
    """The mode a stored command reopens in: the line a person types, written back with shlex.join, whenever
    shlex.split reads that line back to the same argv (`pytest -k 'slow and not db'`: a space or a quote inside an
    argument is no reason to leave the line); one argument per line only for an argv the line cannot give back."""
    line = command_text(argv, 'line')
    return 'line' if parse_command(line, 'line') == argv or not fits_lines(argv) else 'lines'


def slug_of(name: str) -> str:
    """A project id suggested by its name ('My App 2' -> 'my-app-2'); the person may type another."""
    ascii_name = unicodedata.normalize('NFKD', name).encode('ascii', 'ignore').decode().lower()
    return re.sub(r'[^a-z0-9]+', '-', ascii_name).strip('-')[:64].strip('-')


def argv_preview(draft: ProjectDraft) -> list[str] | str:
    """The argv that will run, or why the text is not one yet."""
    try:
        argv = parse_command(draft.command, draft.command_mode)
    except ValueError as exc:
        return str(exc)
    return argv or 'Enter the command to run.'


def issue_source_of(draft: ProjectDraft) -> dict[str, Any]:
    if draft.source_kind == 'local':
        return {'kind': 'local'}
    source: dict[str, Any] = {**draft.source_extra, 'kind': draft.source_kind}
    source.update({k: v.strip() for k, v in draft.source.items() if k in FORGE_FIELDS and v.strip()})
    if draft.source_token.strip():
        source['token'] = draft.source_token.strip()
    elif draft.source_has_token:
        source['token'] = MASK  # the server keeps the stored one
    return source


def credentials_of(draft: ProjectDraft) -> dict[str, Any] | None:
    """The credentials to send (None: remove them); only asked when the choice is not `keep`."""
    if draft.credentials not in ('token', 'ssh_key'):
        return None
    secret = draft.credentials_secret.strip() if draft.credentials == 'token' else draft.credentials_secret
    return {'kind': draft.credentials, 'username': draft.credentials_username.strip() or 'git', 'secret': secret}


def _values(draft: ProjectDraft) -> tuple[dict[str, Any], dict[str, str]]:
    """Every field's value for the API, and the boxes whose text does not parse."""
    values: dict[str, Any] = {
        'name': draft.name.strip(),
        'repository': draft.repository.strip(),
        'base_branch': draft.base_branch.strip(),
        'depth_levels': split_names(draft.depth_levels),
        'target_frameworks': split_names(draft.target_frameworks),
        'runs_on': split_names(draft.runs_on),
        'issue_source': issue_source_of(draft),
        'afk_cost_cap_stops_runs': draft.afk_cost_cap_stops_runs,
        'auto_retry': draft.auto_retry,
        'auto_retry_on': [status for status in AUTO_RETRY_ON if status in draft.auto_retry_on],  # in one order
    }
    problems: dict[str, str] = {}
    if draft.auto_retry and not draft.auto_retry_on:
        problems['auto_retry_on'] = 'Pick at least one way a run ends that is retried.'
    parsers = (
        ('command', lambda: parse_command(draft.command, draft.command_mode)),
        ('max_concurrent_runs', lambda: whole_number(draft.max_concurrent_runs)),
        ('run_budget_seconds', lambda: parse_duration(draft.run_budget)),
        ('queued_ttl_seconds', lambda: parse_duration(draft.queued_ttl)),
        ('afk_cost_cap_usd_per_day', lambda: parse_cost_cap(draft.afk_cost_cap)),
        ('log_retention_days', lambda: whole_number(draft.log_retention)),
        ('run_memory_max', lambda: parse_memory(draft.run_memory)),
        ('run_cpus', lambda: parse_cpus(draft.run_cpus)),
    )
    for key, parse in parsers:
        try:
            values[key] = parse()
        except ValueError as exc:
            problems[key] = str(exc)
    return values, problems


def create_body(draft: ProjectDraft) -> tuple[dict[str, Any], dict[str, str]]:
    """The POST /projects body (defaults left to the server), and the boxes that do not parse."""
    values, problems = _values(draft)
    body: dict[str, Any] = {'id': draft.id.strip(), **values}
    if draft.team_id:
        body['team_id'] = draft.team_id
    for key in (
        'run_budget_seconds',
        'queued_ttl_seconds',
        'max_concurrent_runs',
        'afk_cost_cap_usd_per_day',
        'log_retention_days',
        'run_memory_max',
        'run_cpus',
    ):
        if body.get(key) is None:
            body.pop(key, None)
    if not body['runs_on']:
        del body['runs_on']
    if not body['afk_cost_cap_stops_runs']:
        del body['afk_cost_cap_stops_runs']  # the server's default: off
    if not body['auto_retry']:  # the server's default: never (and its statuses then matter not)
        del body['auto_retry']
        body.pop('auto_retry_on')
    if body['issue_source'] == {'kind': 'local'}:
        del body['issue_source']
    if draft.credentials in ('token', 'ssh_key'):
        body['credentials'] = credentials_of(draft)
    return body, problems


def update_body(draft: ProjectDraft, project: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The PATCH /projects/{id} body: only the fields that differ from `project`, and the boxes that do not
    parse. An emptied number box sends its field anyway (the server says whether it may be empty)."""
    values, problems = _values(draft)
    body: dict[str, Any] = {}
    for key, value in values.items():
        if key in problems:
            continue
        stored = project.get(key)
        if key == 'issue_source':
            stored = {'kind': 'local', **(stored or {})}
        if key == 'afk_cost_cap_stops_runs':
            stored = bool(stored)  # an older server does not answer it: off
        if key == 'auto_retry_on':
            stored = [status for status in AUTO_RETRY_ON if status in (stored or AUTO_RETRY_DEFAULT)]
        if key == 'auto_retry':
            stored = stored or 0
        if value != stored:
            body[key] = value
    if draft.credentials != 'keep':
        body['credentials'] = credentials_of(draft)
    return body, problems
