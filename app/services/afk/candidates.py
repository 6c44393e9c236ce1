"""The issues the AFK sweep may launch on: a project's open issues labelled ready-for-agent (the local
issue table, or the forge) that no unfinished claim holds."""

from __future__ import annotations

import json

from sqlalchemy import Connection, text

from app.models import Project
from app.services.repositories import forge
from app.services.repositories.issue_sources import IssueRecord, is_forge


def ready_local_issues(conn: Connection, project_ids: set[str]) -> dict[str, list[IssueRecord]]:
    ready: dict[str, list[IssueRecord]] = {}
    if not project_ids:
        return ready
    rows = conn.execute(
        text("SELECT project_id, number, title, labels FROM issue WHERE state = 'open' ORDER BY number")
    ).all()
    for project_id, number, title, labels in rows:
        if project_id not in project_ids:
            continue
        if isinstance(labels, str):
            labels = json.loads(labels)
        record = IssueRecord(number, title, '', tuple(labels or ()), 'open')
        if record.labelled_ready:
            ready.setdefault(project_id, []).append(record)
    return ready


def claimable_candidates(
    project: Project, local_ready: dict[str, list[IssueRecord]], blocked: dict[str, set[int]]
) -> list[IssueRecord]:
    if is_forge(project.issue_source):
        records = forge.ready_issues(project.repository, project.issue_source, changed_at=project.issues_changed_at)
    else:
        records = local_ready.get(project.id, [])
    taken = blocked.get(project.id, set())
    return [r for r in records if r.labelled_ready and r.number not in taken]
