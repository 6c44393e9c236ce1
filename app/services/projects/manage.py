"""Projects: create / update / delete with checks against the repository (who sees one: visibility.py; how one
reads: view.py)."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import Engine, Table, text
from sqlalchemy.exc import IntegrityError

from app.core.errors import DomainError, edit_conflict, forbidden
from app.infra.db import compare_and_set, session_scope
from app.models import (
    CredentialsIn,
    Project,
    ProjectCreate,
    ProjectUpdate,
    utcnow,
)
from app.services.identity import audit
from app.services.identity.accounts import Principal
from app.services.projects.visibility import get_visible
from app.services.repositories import forge, gitops
from app.services.repositories.access import ProjectRepository, RepositoryAccess, is_remote
from app.services.repositories.issue_sources import is_forge
from app.services.repositories.repo_url import local_refusal
from app.services.runs import sql as run_sql
from app.services.triggers.rules import choice_refusal

_projects: Table = Project.__table__  # type: ignore[attr-defined]


def check_repository(facts: ProjectRepository, base_branch: str, repositories: RepositoryAccess | None = None) -> None:
    """The repository is one runs can use (gitops.unsupported_reason, as admission checks it), this server
    can read it (a remote one is cloned into its mirror now, with the project's credentials), and its base
    branch exists."""
    reason = gitops.unsupported_reason(facts.repository)
    if reason:
        raise DomainError(
            422, 'unsupported_repository', f'Runs cannot use this repository: {reason}.', field='repository'
        )
    try:
        if repositories is not None and is_remote(facts.repository):
            repositories.refresh(facts, max_age=0)
            git_dir = repositories.git_dir(facts)
        else:
            git_dir = facts.repository
        names = {b.name for b in gitops.list_branches(git_dir)}
    except DomainError as exc:
        raise DomainError(
            422, 'unsupported_repository', exc.detail, field='repository', reason=exc.extra.get('reason')
        ) from exc
    except (gitops.GitError, OSError) as exc:
        raise DomainError(
            422,
            'unsupported_repository',
            f'{facts.repository!r} is not a git repository this server can read: {exc}',
            field='repository',
        ) from exc
    if base_branch not in names:
        raise DomainError(
            422, 'validation', f'base branch {base_branch!r} does not exist in the repository', field='base_branch'
        )


def local_repository_refusal(repository: str, repositories: RepositoryAccess | None) -> str | None:
    """Team mode without RUNBOARD_ALLOW_LOCAL_REPOSITORIES: why a server path or file:// URL is refused (and
    shown on an existing project's page; such projects keep running)."""
    if repositories is None:
        return None
    settings = repositories.settings
    return local_refusal(repository, team_mode=settings.is_team_mode, allow_local=settings.allow_local_repositories)


def refuse_local_repository(repository: str, repositories: RepositoryAccess | None) -> None:
    reason = local_repository_refusal(repository, repositories)
    if reason:
        raise DomainError(
            422,
            'unsupported_repository',
            f'Runboard cannot use this repository: {reason}.',
            field='repository',
            reason='local_repository',
        )


def stored_credentials(
    credentials: CredentialsIn | None, repositories: RepositoryAccess | None
) -> dict[str, str | None]:
    """The project columns for write-only credentials: the secret encrypted, or all empty."""
    if credentials is None:
        return {'credentials_kind': None, 'credentials_username': None, 'credentials_secret': None}
    if repositories is None:
        raise DomainError(422, 'validation', 'credentials cannot be stored here', field='credentials')
    return {
        'credentials_kind': credentials.kind,
        'credentials_username': credentials.username,
        'credentials_secret': repositories.encrypt(credentials.secret),
    }


def from_forge(data: ProjectCreate) -> ProjectCreate:
    """A forge-hosted project created without a repository: the forge's clone URL, and (unless others are
    given) the forge's API token as its git credentials, so issues, PR checks and git share one token."""

    if not is_forge(data.issue_source):
        raise DomainError(
            422,
            'validation',
            'repository is required (or an issue_source on a forge to take it from)',
            field='repository',
        )
    changes: dict[str, object] = {'repository': forge.clone_url(data.issue_source)}
    if data.credentials is None and (token := forge.forge_token_credentials(data.issue_source)):
        changes['credentials'] = CredentialsIn.model_validate(token)
    return data.model_copy(update=changes)


def _require_operator(principal: Principal) -> None:
    if not principal.is_operator:
        raise forbidden('only operators can change projects')


def create_project(
    engine: Engine, principal: Principal, data: ProjectCreate, repositories: RepositoryAccess | None = None
) -> str:
    """Returns the new project's id."""
    _require_operator(principal)
    team_id = data.team_id or (sorted(principal.team_ids)[0] if principal.team_ids else None)
    if team_id is None or team_id not in principal.team_ids:
        raise DomainError(422, 'validation', 'team_id must be one of your teams', field='team_id')
    forge.check_target(data.repository, data.issue_source)  # before from_forge asks it for the clone URL
    if not data.repository.strip():
        data = from_forge(data)
    refuse_local_repository(data.repository, repositories)
    credentials = stored_credentials(data.credentials, repositories)
    check_repository(ProjectRepository(data.id, data.repository, **credentials), data.base_branch, repositories)
    project = Project.model_validate(
        {
            **data.model_dump(exclude={'team_id', 'credentials'}),
            **credentials,
            'team_id': team_id,
            'repository_key': gitops.team_repository_key(team_id, data.repository),
            # where its run caches start (execution/caches.py): a project made again under a deleted one's id, by
            # any team, never finds what the old one's runs left on a worker that has not tidied it away yet
            'cache_generation': secrets.randbelow(2**31),
        }
    )

    try:
        with session_scope(engine) as session:
            session.add(project)
            session.flush()  # the project row first: a duplicate id fails here, before its audit entry
            audit.record(session, principal, 'project.created', team_id=team_id, project_id=data.id, target=data.id)
    except IntegrityError as exc:
        raise DomainError(409, 'conflict', f'a project with id {data.id!r} already exists') from exc
    return data.id


def update_project(
    engine: Engine,
    principal: Principal,
    project_id: str,
    data: ProjectUpdate,
    repositories: RepositoryAccess | None = None,
) -> None:
    """Change what `data` names. Only the settings whose value differs from the project's are checked, written and
    audited; a change to nothing writes nothing (new credentials, and push rules saved again by another operator, who
    then owns them, are changes). `data.edit_version`, the edit version the editor read: when the project is no
    longer at it, 409 edit_conflict and nothing is written. The write moves the edit version only from the one this
    transaction read, so of two edits racing on one version exactly one is saved (the other's is edit_conflict too).
    An edit that names no version (the Settings page's own panels, scripts) is made on the project as it is when
    written, also when another write came between its read and its write: it is never refused as a conflict."""
    _require_operator(principal)
    changes = data.model_dump(exclude_unset=True)
    with session_scope(engine) as session:
        project = get_visible(session, project_id, principal)
        for key, value in changes.items():
            if value is None and key not in (
                'run_budget_seconds',
                'credentials',
                'queued_ttl_seconds',
                'on_push',
                'afk_cost_cap_usd_per_day',
                'log_retention_days',
                'run_memory_max',
                'run_cpus',
                'protected_branches',
            ):
                raise DomainError(422, 'validation', f'{key} cannot be null', field=key)
        expected = changes.pop('edit_version', None)
        if expected is not None and expected != project.edit_version:
            raise _edit_conflict(project, expected)
        if isinstance(source := changes.get('issue_source'), dict) and source.get('token') == '********':
            kept = (project.issue_source or {}).get('token')  # the answers' mask sent back: keep the stored token
            same_api = source.get('api_url') == (project.issue_source or {}).get('api_url')
            same_repository = changes.get('repository', project.repository) == project.repository
            if kept and not (same_api and same_repository):  # it would go to another host than it was given for
                raise DomainError(
                    422,
                    'validation',
                    'The stored forge token is not sent to a new api_url or repository: give the token again.',
                    field='issue_source',
                )
            changes['issue_source'] = {k: v for k, v in {**source, 'token': kept}.items() if v is not None}
        if 'on_push' in changes:
            check_push_rules(data, project, changes)
        changes = _differing(project, changes, principal)
        if not changes:  # nothing to record: the project stays as it was, unaudited
            return
        if {'auto_retry', 'auto_retry_on'} & set(changes):  # the rule holds for runs made from now on
            project.auto_retry_since = utcnow()
        if 'on_push' in changes:
            project.on_push_by = principal.user_id  # the runs pushes start are admitted as this person
        repository = changes.get('repository', project.repository)
        if repository != project.repository:  # an existing local repository stays; setting one is refused
            refuse_local_repository(repository, repositories)
        if {'repository', 'issue_source'} & set(changes):
            forge.check_target(repository, changes.get('issue_source', project.issue_source))
        base = changes.get('base_branch', project.base_branch)
        new_credentials = 'credentials' in changes
        if new_credentials:
            credentials = stored_credentials(data.credentials, repositories)
            del changes['credentials']
        else:
            credentials = {
                'credentials_kind': project.credentials_kind,
                'credentials_username': project.credentials_username,
                'credentials_secret': project.credentials_secret,
            }
        if {'repository', 'base_branch'} & set(changes) or new_credentials:
            check_repository(ProjectRepository(project.id, repository, **credentials), base, repositories)
        # what the cap was: the AFK summary replays the day's cost against the cap in force then (afk/summary.py)
        was = (
            {'afk_cost_cap_usd_per_day': project.afk_cost_cap_usd_per_day}
            if 'afk_cost_cap_usd_per_day' in changes
            else {}
        )
        read = None if expected is None else project.edit_version  # no version named: the edit is made on the row
        moved = compare_and_set(session, _projects, project.id, 'edit_version', read)
        if moved is None:  # another edit was saved between this one's read (the version named) and its write
            session.refresh(project)
            raise _edit_conflict(project, project.edit_version if read is None else read)
        project.edit_version = moved  # as the write above left it (the flush below writes the same)
        for key, value in {**changes, **credentials}.items():
            setattr(project, key, value)
        project.repository_key = gitops.team_repository_key(project.team_id, repository)
        project.launch_error = project.launch_error_at = None  # changed: the AFK loop may try launching again
        if 'afk_cost_cap_usd_per_day' in changes:  # the next sweep weighs the new cap (and says so if it is reached)
            project.afk_cost_capped_on = None
        project.updated_at = utcnow()
        session.add(project)
        shown = {k: v for k, v in changes.items() if not k.startswith('credentials')}
        if new_credentials:
            shown['credentials'] = 'changed'  # never the secret itself
        if isinstance(shown.get('issue_source'), dict) and shown['issue_source'].get('token'):
            shown['issue_source'] = {**shown['issue_source'], 'token': '********'}  # nor a forge token
        audit.record(
            session,
            principal,
            'project.updated',
            team_id=project.team_id,
            project_id=project_id,
            target=project_id,
            details={'changed': shown, **({'was': was} if was else {})},
        )


def _differing(project: Project, changes: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """The changes that change something: a setting whose value is the project's is left out, and so is removing
    credentials it does not have. Credentials given are always a change (the secret stored is not compared), and so
    are push rules saved again by someone else than who set them: their runs are admitted as the saver from then on
    (how an operator takes over a departed colleague's rules, docs/team.md)."""
    kept = {}
    for key, value in changes.items():
        if key == 'credentials':
            same = value is None and project.credentials_kind is None
        elif key == 'on_push':
            same = value == project.on_push and (value is None or project.on_push_by == principal.user_id)
        else:
            same = getattr(project, key) == value
        if not same:
            kept[key] = value
    return kept


def _edit_conflict(project: Project, read: int) -> DomainError:
    """409 for an edit made on edit version `read` of a project's settings another edit has moved on from since."""
    return edit_conflict(f'Project “{project.name}”', read, project.edit_version, field='edit_version')


def check_push_rules(data: ProjectUpdate, project: Project, changes: dict) -> None:
    """The push rules against the project's depth levels and frameworks (as they will be after this change);
    stored as JSON without unset fields."""
    if data.on_push is None:
        return
    refusal = choice_refusal(
        data.on_push,
        depth_levels=changes.get('depth_levels') or project.depth_levels,
        target_frameworks=changes.get('target_frameworks') or project.target_frameworks,
    )
    if refusal:
        raise DomainError(422, 'validation', f'on_push: {refusal}', field='on_push')
    changes['on_push'] = data.on_push.model_dump(exclude_none=True)


def delete_project(engine: Engine, principal: Principal, project_id: str) -> None:
    _require_operator(principal)
    with session_scope(engine) as session:
        project = get_visible(session, project_id, principal)
        conn = session.connection()
        active = run_sql.active_run_ids(conn, project_id=project_id)
        if active:
            raise DomainError(
                409,
                'project_busy',
                f'project has {len(active)} active run(s); stop them first',
                blocking_runs=list(active),
            )
        for run_table in ('runevent', 'runstage'):
            conn.execute(
                text(f'DELETE FROM {run_table} WHERE run_id IN (SELECT id FROM run WHERE project_id = :p)'),
                {'p': project_id},
            )
        conn.execute(
            text('UPDATE run SET retry_of = NULL WHERE retry_of IN (SELECT id FROM run WHERE project_id = :p)'),
            {'p': project_id},
        )
        conn.execute(
            text('DELETE FROM schedulefiring WHERE schedule_id IN (SELECT id FROM schedule WHERE project_id = :p)'),
            {'p': project_id},
        )
        # the titles of its commits that no other project's run names: kept, they would say what the project held
        conn.execute(
            text(
                'DELETE FROM commit_info WHERE sha IN (SELECT commit_sha FROM run WHERE project_id = :p)'
                ' AND NOT EXISTS (SELECT 1 FROM run WHERE run.commit_sha = commit_info.sha AND run.project_id != :p)'
            ),
            {'p': project_id},
        )
        for table in ('commit_status', 'push_head', 'push_wait'):  # a push trigger's records of the project
            conn.execute(text(f'DELETE FROM {table} WHERE project_id = :p'), {'p': project_id})
        for table in ('run', 'batch', 'issueclaim', 'issue', 'schedule', 'project_variable'):
            conn.execute(text(f'DELETE FROM {table} WHERE project_id = :p'), {'p': project_id})
        audit.record(
            conn, principal, 'project.deleted', team_id=project.team_id, project_id=project_id, target=project_id
        )
        conn.execute(text('DELETE FROM project WHERE id = :p'), {'p': project_id})
