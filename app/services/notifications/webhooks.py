"""Notification rules: a project's signed webhooks. Everyone who sees the project may list them (builders see
only the URL's origin: a Slack webhook's path is its credential); operators create, change and delete them.
The signing secret is made here, shown once (in the answer to a create or a new secret) and kept encrypted
with the server's secret box, since the server needs it again to sign."""

from __future__ import annotations

from sqlalchemy import Engine, Table, func
from sqlmodel import Session, col, select

from app.core import ids
from app.core.errors import DomainError, edit_conflict, forbidden, not_found
from app.infra.db import compare_and_set, session_scope
from app.infra.secret_box import SecretBox
from app.models import NotificationRule, Project, RuleCreate, RuleCreated, RulePublic, RuleUpdate, utcnow
from app.models.webhook_url import url_host, url_origin
from app.services.identity import audit
from app.services.identity.accounts import Principal
from app.services.notifications.signature import ROTATION_GRACE, new_secret
from app.services.notifications.webhook_policy import TargetPolicy
from app.services.notifications.webhook_targets import refusal_now
from app.services.projects.visibility import get_visible

MAX_RULES_PER_PROJECT = 20
_rules: Table = NotificationRule.__table__  # type: ignore[attr-defined]


def require_operator(principal: Principal, doing: str = 'change notification rules') -> None:
    if not principal.is_operator:
        raise forbidden(f'only operators can {doing}')


def check_target(url: str, policy: TargetPolicy) -> None:
    """422 webhook_target_refused when the URL's host is an address, or a name resolving now to one, that the
    deployment's RUNBOARD_WEBHOOK_ALLOWED_HOSTS refuses (every delivery checks again: DNS answers change)."""
    reason = refusal_now(url, policy)
    if reason:
        raise DomainError(422, 'webhook_target_refused', f'This webhook URL is refused: {reason}.', field='url')


def public(rule: NotificationRule, principal: Principal) -> RulePublic:
    shown = rule.model_dump(exclude={'secret_encrypted', 'previous_secret_encrypted', 'previous_secret_until'})
    if not principal.is_operator:
        shown['url'] = url_origin(rule.url)
    return RulePublic.model_validate(shown)


def visible_rule(session: Session, principal: Principal, project_id: str, rule_id: str) -> NotificationRule:
    """The rule of a project the caller sees; 404 alike for another team's project and for no such rule."""
    get_visible(session, project_id, principal)
    rule = session.get(NotificationRule, rule_id)
    if rule is None or rule.project_id != project_id:
        raise not_found(f'notification rule {rule_id!r}')
    return rule


def list_rules(engine: Engine, principal: Principal, project_id: str) -> list[RulePublic]:
    with Session(engine) as session:
        get_visible(session, project_id, principal)
        rows = session.exec(
            select(NotificationRule)
            .where(col(NotificationRule.project_id) == project_id)
            .order_by(col(NotificationRule.id))
        ).all()
        return [public(rule, principal) for rule in rows]


def get_rule(engine: Engine, principal: Principal, project_id: str, rule_id: str) -> RulePublic:
    with Session(engine) as session:
        return public(visible_rule(session, principal, project_id, rule_id), principal)


def create_rule(
    engine: Engine, secrets: SecretBox, principal: Principal, project_id: str, data: RuleCreate, *, policy: TargetPolicy
) -> RuleCreated:
    require_operator(principal)
    check_target(data.url, policy)
    secret = new_secret()
    now = utcnow()
    with session_scope(engine) as session:
        project = get_visible(session, project_id, principal)
        count = session.exec(
            select(func.count()).select_from(NotificationRule).where(col(NotificationRule.project_id) == project_id)
        ).one()
        if count >= MAX_RULES_PER_PROJECT:
            raise DomainError(
                409, 'too_many_rules', f'a project has at most {MAX_RULES_PER_PROJECT} notification rules'
            )
        rule = NotificationRule(
            id=ids.new_run_id(prefix='ntf_'),
            project_id=project_id,
            name=data.name or url_host(data.url),
            url=data.url,
            format=data.format,
            events=list(data.events),
            secret_encrypted=secrets.encrypt(secret),
            enabled=data.enabled,
            created_by=principal.user_id,
            created_at=now,
            updated_at=now,
        )
        session.add(rule)
        session.flush()
        _audit(session, principal, 'webhook.created', project.team_id, rule, {'events': list(rule.events)})
        return RuleCreated.model_validate({**public(rule, principal).model_dump(), 'secret': secret})


def _audit(
    session: Session, principal: Principal, action: str, team_id: str, rule: NotificationRule, details: dict
) -> None:
    """Who changed where a project's events go, in the change's transaction: the URL's origin only (a Slack
    webhook's path is its credential), never the secret."""
    audit.record(
        session,
        principal,
        action,
        team_id=team_id,
        project_id=rule.project_id,
        target=rule.id,
        details={'name': rule.name, 'url': url_origin(rule.url), **details},
    )


def team_of(engine: Engine, project_id: str) -> str | None:
    """The team whose change events tell of the project's rules (None: the project is gone)."""
    with Session(engine) as session:
        project = session.get(Project, project_id)
        return project.team_id if project else None


def _team_of(session: Session, project_id: str) -> str:
    project = session.get(Project, project_id)
    assert project is not None  # visible_rule found the rule through its project
    return project.team_id


def update_rule(
    engine: Engine,
    principal: Principal,
    project_id: str,
    rule_id: str,
    data: RuleUpdate,
    *,
    policy: TargetPolicy,
) -> RulePublic:
    """Change what `data` names. Only the fields whose value differs from the rule's are written and audited (by
    name, the URL as its origin); a change to nothing writes nothing. The signing secret is not among them (a
    new one: new_rule_secret). `data.version`, the version the editor read: when the rule is no longer at it, 409
    edit_conflict and nothing is written. The write itself moves the version only from the one this transaction
    read, so of two edits racing on one version exactly one is saved (the other's is edit_conflict too). An edit
    that names no version (the on/off switch, scripts) is made on the rule as it is when written, also when another
    write came between its read and its write: it is never refused as a conflict."""
    require_operator(principal)
    changes = data.model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None:
            raise DomainError(422, 'validation', f'{key} cannot be null', field=key)
    expected = changes.pop('version', None)
    if 'url' in changes:
        check_target(changes['url'], policy)
    with session_scope(engine) as session:
        rule = visible_rule(session, principal, project_id, rule_id)
        if expected is not None and expected != rule.version:
            raise _edit_conflict(rule, expected)
        differing = {key: value for key, value in changes.items() if getattr(rule, key) != value}
        if not differing:  # nothing to record: the rule stays as it was, unaudited
            return public(rule, principal)
        read = None if expected is None else rule.version  # no version named: the edit is made on the row
        if compare_and_set(session, _rules, rule.id, 'version', read, **differing, updated_at=utcnow()) is None:
            session.refresh(rule)  # another edit was saved between this one's read (the version named) and its write
            raise _edit_conflict(rule, rule.version if read is None else read)
        session.refresh(rule)
        changed = {key: url_origin(value) if key == 'url' else value for key, value in differing.items()}
        _audit(session, principal, 'webhook.updated', _team_of(session, project_id), rule, {'changed': changed})
        return public(rule, principal)


def _edit_conflict(rule: NotificationRule, read: int) -> DomainError:
    """409 for an edit made on version `read` of a rule another change has moved on from since."""
    return edit_conflict(f'Webhook “{rule.name}”', read, rule.version, field='version')


def new_rule_secret(
    engine: Engine, secrets: SecretBox, principal: Principal, project_id: str, rule_id: str
) -> RuleCreated:
    """Replace the signing secret (shown this once); deliveries from now on are signed with the new one, and for
    ROTATION_GRACE with the replaced one too (a receiver changes its secret meanwhile)."""
    require_operator(principal)
    secret = new_secret()
    now = utcnow()
    with session_scope(engine) as session:
        rule = visible_rule(session, principal, project_id, rule_id)
        rule.previous_secret_encrypted = rule.secret_encrypted
        rule.previous_secret_until = now + ROTATION_GRACE
        rule.secret_encrypted = secrets.encrypt(secret)
        rule.updated_at = now
        session.add(rule)
        session.flush()
        _audit(session, principal, 'webhook.secret_rotated', _team_of(session, project_id), rule, {})
        return RuleCreated.model_validate({**public(rule, principal).model_dump(), 'secret': secret})


def delete_rule(engine: Engine, principal: Principal, project_id: str, rule_id: str) -> None:
    """The rule and its delivery log (ON DELETE CASCADE); a delivery being sent right now still finishes."""
    require_operator(principal)
    with session_scope(engine) as session:
        rule = visible_rule(session, principal, project_id, rule_id)
        _audit(session, principal, 'webhook.deleted', _team_of(session, project_id), rule, {})
        session.delete(rule)
