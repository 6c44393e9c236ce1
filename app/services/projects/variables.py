"""A project's variables and secrets: the names its runs receive in their environment (docs/security.md).

Operators set and remove them; every member of the project's team may list them (a protected variable's value is
answered to operators only). A secret's value is stored encrypted with the secret box, is never answered, never
audited (the audit log names it, no more) and is masked in every output of the project's runs. Names are one
namespace per project: a name is a variable or a secret, not both. The executor that runs a run (the server's
engine or a worker) decrypts them.

A protected one (GitLab's protected variables) is given only to runs of the project's protected branches (its base
branch, or the globs of `protected_branches`), and never to a pull request's run: a branch anyone may push to cannot
read the deploy key that only the base branch's pipeline needs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import JSON, Engine, column, text
from sqlmodel import Session, col, select

from app.core.errors import DomainError, forbidden, not_found
from app.core.globs import protected_branch
from app.infra.db import session_scope
from app.infra.secret_box import SecretBox
from app.models import ProjectVariable, VariablePublic, utcnow
from app.models.schemas import NAME_RE
from app.services.identity import audit
from app.services.identity.accounts import Principal
from app.services.projects.visibility import get_visible

MIN_SECRET_CHARS = 4  # shorter values cannot be masked without masking ordinary output


def check_name(name: str) -> str | None:
    """Why `name` cannot be a project variable, or None."""
    if not re.fullmatch(NAME_RE, name):
        return 'a name is letters, digits and underscores, not starting with a digit, at most 100 characters'
    if name.upper().startswith('RUNBOARD_'):
        return "RUNBOARD_* names are the run's own facts (docs/pipelines.md)"
    return None


def check_value(value: str, *, secret: bool) -> str | None:
    if '\x00' in value:
        return 'a value cannot hold a NUL character'
    if secret and len(value.strip()) < MIN_SECRET_CHARS:
        return f'a secret has at least {MIN_SECRET_CHARS} characters (shorter ones cannot be masked in output)'
    return None


def _public(row: ProjectVariable, principal: Principal) -> VariablePublic:
    """A secret's value is never answered; a protected variable's only to operators: a builder may push a branch
    that is not protected, and a value kept from that branch's runs is kept from them too (docs/security.md)."""
    hidden = row.secret or (row.protected and not principal.is_operator)
    return VariablePublic(
        name=row.name,
        secret=row.secret,
        value=None if hidden else row.value,
        protected=row.protected,
        set_by=row.set_by,
        updated_at=row.updated_at,
    )


def list_variables(engine: Engine, principal: Principal, project_id: str, *, secret: bool) -> list[VariablePublic]:
    with Session(engine) as session:
        get_visible(session, project_id, principal)
        rows = session.exec(
            select(ProjectVariable)
            .where(col(ProjectVariable.project_id) == project_id, col(ProjectVariable.secret) == secret)
            .order_by(col(ProjectVariable.name))
        ).all()
        return [_public(row, principal) for row in rows]


def set_variable(
    engine: Engine,
    principal: Principal,
    project_id: str,
    name: str,
    value: str,
    *,
    secret: bool,
    box: SecretBox,
    protected: bool | None = None,
) -> tuple[VariablePublic, bool]:
    """Create or replace (`protected` None: as it was; a new one is not); returns the answer and whether it was
    created."""
    if not principal.is_operator:
        raise forbidden('only operators can set project variables and secrets')
    kind = 'secret' if secret else 'variable'
    if reason := check_name(name):
        raise DomainError(422, 'validation', reason, field='name')
    if reason := check_value(value, secret=secret):
        raise DomainError(422, 'validation', reason, field='value')
    with session_scope(engine) as session:
        project = get_visible(session, project_id, principal)
        row = session.get(ProjectVariable, (project_id, name))
        if row is not None and row.secret != secret:
            other = 'secret' if row.secret else 'variable'
            raise DomainError(
                409, 'name_taken', f'{name} is already a {other} of this project; remove it first', field='name'
            )
        created = row is None
        stored = box.encrypt(value) if secret else value
        if row is None:
            row = ProjectVariable(project_id=project_id, name=name, secret=secret, value=stored)
        row.value, row.set_by, row.updated_at = stored, principal.name, utcnow()
        if protected is not None:
            row.protected = protected
        session.add(row)
        audit.record(
            session,
            principal,
            f'project.{kind}.set',
            team_id=project.team_id,
            project_id=project_id,
            target=name,
            details={'name': name, 'created': created, 'protected': row.protected},
        )
        session.flush()
        return _public(row, principal), created


def remove_variable(engine: Engine, principal: Principal, project_id: str, name: str, *, secret: bool) -> None:
    if not principal.is_operator:
        raise forbidden('only operators can remove project variables and secrets')
    kind = 'secret' if secret else 'variable'
    with session_scope(engine) as session:
        project = get_visible(session, project_id, principal)
        row = session.get(ProjectVariable, (project_id, name))
        if row is None or row.secret != secret:
            raise not_found(f'{kind} {name!r}')
        session.delete(row)
        audit.record(
            session,
            principal,
            f'project.{kind}.removed',
            team_id=project.team_id,
            project_id=project_id,
            target=name,
            details={'name': name},
        )


def gets_protected(*, kind: str, branch: str, base_branch: str, patterns: list[str] | None) -> bool:
    """Pure: whether a run receives the project's protected variables: a run of a protected branch, except a pull
    request's (its code is the pull request's, whatever the branch is called)."""
    return kind != 'pull_request' and protected_branch(branch, base_branch=base_branch, patterns=patterns)


@dataclass(frozen=True)
class RunVariables:
    environment: dict[str, str]
    secret_values: list[str]  # what the output ingest masks
    withheld: list[str]  # protected names the run was not given (its log says so)


SQL_PROTECTION = text(
    'SELECT r.kind, r.branch_name, p.base_branch, p.protected_branches '
    'FROM run r JOIN project p ON p.id = r.project_id WHERE r.id = :r'
).columns(column('kind'), column('branch_name'), column('base_branch'), column('protected_branches', JSON))


def for_run(engine: Engine, box: SecretBox, project_id: str, run_id: str) -> RunVariables:
    """The executor's read: every variable and decrypted secret of the project (the protected ones only for a run
    of a protected branch), then the variables the run was triggered with, which replace the project's of the same
    name (GitLab's precedence)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text('SELECT name, secret, value, protected FROM project_variable WHERE project_id = :p ORDER BY name'),
            {'p': project_id},
        ).all()
        own = conn.execute(text('SELECT name, value FROM runvariable WHERE run_id = :r'), {'r': run_id}).all()
        run = conn.execute(SQL_PROTECTION, {'r': run_id}).one() if any(row[3] for row in rows) else None
    given = run is None or gets_protected(
        kind=run.kind, branch=run.branch_name, base_branch=run.base_branch, patterns=run.protected_branches
    )
    environment: dict[str, str] = {}
    secrets: list[str] = []
    withheld: list[str] = []
    for name, secret, value, protected in rows:
        if secret:
            value = box.decrypt(value)
            secrets.append(value)  # masked in every run, given or not
        if protected and not given:
            withheld.append(name)
            continue
        environment[name] = value
    environment.update({name: value for name, value in own})
    return RunVariables(environment, secrets, withheld)
