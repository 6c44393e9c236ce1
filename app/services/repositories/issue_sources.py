"""Where branches and AFK issues come from: the local backlog (embedded default) or a forge
(Gitea/Forgejo, GitHub) through httpx. The AFK loop asks for ready issues and, on forges, for the
pull request an AFK run opened."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

READY_LABEL = 'ready-for-agent'
FORGE_KINDS = ('gitea', 'forgejo', 'github')


@dataclass(frozen=True)
class IssueRecord:
    number: int
    title: str
    body: str = ''
    labels: tuple[str, ...] = ()
    state: str = 'open'

    @property
    def labelled_ready(self) -> bool:
        return self.state == 'open' and READY_LABEL in self.labels


def source_kind(issue_source: Mapping[str, Any] | None) -> str:
    kind = str((issue_source or {}).get('kind') or 'local').lower()
    return 'gitea' if kind == 'forgejo' else kind


def is_forge(issue_source: Mapping[str, Any] | None) -> bool:
    return source_kind(issue_source) in FORGE_KINDS


def afk_branch(issue_number: int) -> str:
    return f'afk/{issue_number}'
