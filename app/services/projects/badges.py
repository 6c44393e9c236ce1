"""Status and coverage badges for a README (GitHub Actions' workflow badge, GitLab's pipeline and coverage badges).

A README on a forge is rendered by a proxy that sends no credentials, so a badge is reached through a key in its
address instead of a token: an operator turns a project's badges on (a new key; the old addresses stop working), any
member of its team reads the addresses, and whoever has one sees a branch's last verdict and coverage, nothing
else. The key is kept as it is (it must be shown again to be copied) and opens only these two pictures.
"""

from __future__ import annotations

import hmac
import secrets

from sqlalchemy import Engine, text
from sqlmodel import Session

from app.core.errors import DomainError, forbidden, not_found
from app.infra.db import session_scope
from app.models import Project, utcnow
from app.services.identity import audit
from app.services.identity.accounts import Principal
from app.services.projects import visibility

# a run that ended with a verdict on its code; stopped, cancelled, expired and skipped runs say nothing about it
VERDICTS = {
    'succeeded': ('passing', 'green'),
    'failed': ('failing', 'red'),
    'timed_out': ('timed out', 'red'),
    'crashed': ('crashed', 'lightgrey'),  # the machine's verdict, not the code's: grey, as GitLab draws "unknown"
}
# :d and :f narrow them to one depth level or framework (GitHub's badge is one workflow's); '' is any
LAST_VERDICT_SQL = text(
    'SELECT status FROM run WHERE project_id = :p AND branch_name = :b '
    "AND status IN ('succeeded', 'failed', 'timed_out', 'crashed') "
    "AND (:d = '' OR depth_level = :d) AND (:f = '' OR target_framework = :f) ORDER BY id DESC LIMIT 1"
)
LAST_COVERAGE_SQL = text(
    'SELECT c.percent FROM runcoverage c JOIN run r ON r.id = c.run_id WHERE c.project_id = :p AND c.branch_name = :b '
    "AND (:d = '' OR r.depth_level = :d) AND (:f = '' OR r.target_framework = :f) ORDER BY c.run_id DESC LIMIT 1"
)


def status_badge(status: str | None) -> tuple[str, str]:
    """Pure: (value, colour) of the status badge for a branch's last run with a verdict (None: it has none)."""
    if status is None:
        return 'no runs', 'lightgrey'
    return VERDICTS.get(status, (status.replace('_', ' '), 'lightgrey'))


def coverage_badge(percent: float | None) -> tuple[str, str]:
    """Pure: (value, colour) of the coverage badge (shields.io's steps: red under 50 %, green from 90 %)."""
    if percent is None:
        return 'unknown', 'lightgrey'
    steps = ((90, 'brightgreen'), (80, 'green'), (70, 'yellowgreen'), (60, 'yellow'), (50, 'orange'))
    colour = next((c for floor, c in steps if percent >= floor), 'red')
    return f'{percent:.1f}%', colour


def new_badge_key() -> str:
    return 'rbb_' + secrets.token_urlsafe(18)


def badge_key(engine: Engine, principal: Principal, project_id: str) -> tuple[str | None, str]:
    """The project's badge key (None: badges are off) and its base branch, for a member of its team."""
    with Session(engine) as session:
        project = visibility.get_visible(session, project_id, principal)
        return project.badge_key, project.base_branch


def set_badge_key(engine: Engine, principal: Principal, project_id: str, *, on: bool) -> tuple[str | None, str]:
    """Operators: a new badge key (the old addresses stop working at once), or none (badges off)."""
    with session_scope(engine) as session:
        project = visibility.get_visible(session, project_id, principal)
        if not principal.is_operator:
            raise forbidden("Only operators can change a project's badges.")
        project.badge_key = new_badge_key() if on else None
        project.updated_at = utcnow()
        session.add(project)
        action = 'project.badge_key_rotated' if on else 'project.badges_removed'
        audit.record(session, principal, action, team_id=project.team_id, project_id=project_id, target=project_id)
        return project.badge_key, project.base_branch


def badge(
    engine: Engine,
    project_id: str,
    key: str,
    kind: str,
    *,
    branch: str | None = None,
    depth_level: str | None = None,
    target_framework: str | None = None,
) -> tuple[str, str, str]:
    """(label, value, colour) of a public badge. A wrong key and an unknown project are the same 404, so the
    address tells nothing about which projects exist. `kind` is checked here, not by the route's validation, so
    that a wrong one is a 404 too rather than the 401 an invalid request without a token gets."""
    with Session(engine) as session:
        project = session.get(Project, project_id)
        if (
            project is None
            or not project.badge_key
            or not hmac.compare_digest(project.badge_key.encode(), key.encode())
        ):
            raise not_found('badge')
        facts = {
            'p': project_id,
            'b': branch or project.base_branch,
            'd': depth_level or '',
            'f': target_framework or '',
        }
        if kind == 'status':
            return ('build', *status_badge(session.connection().execute(LAST_VERDICT_SQL, facts).scalar()))
        if kind == 'coverage':
            return ('coverage', *coverage_badge(session.connection().execute(LAST_COVERAGE_SQL, facts).scalar()))
    raise DomainError(404, 'not_found', 'A badge is status.svg or coverage.svg.')
