"""An AFK run as its reviewer reads it (GET /runs/{id}/review, docs/afk.md "Reviewing an AFK run"): the issue it
worked on, the pull request once it exists with its checks, and the changes (files with +/- and each file's diff)."""

from __future__ import annotations

from typing import Literal

from sqlmodel import SQLModel


class ReviewIssue(SQLModel):
    number: int
    title: str
    body: str = ''  # Markdown as written; the page renders it without raw HTML
    labels: list[str] = []
    state: str = 'open'
    url: str | None = None  # the forge's page of the issue; None for the local backlog


class ReviewCheck(SQLModel):
    context: str
    state: str  # pending | success | failure | error | warning
    description: str | None = None
    target_url: str | None = None


class ReviewPullRequest(SQLModel):
    number: int
    title: str
    state: str  # open | closed | merged
    url: str | None = None
    head_sha: str | None = None
    checks: list[ReviewCheck] = []


class ReviewFile(SQLModel):
    path: str
    status: str = 'modified'  # added | modified | deleted | renamed
    additions: int = 0
    deletions: int = 0
    patch: str | None = None  # this file's part of the diff (None: binary, or too large to show)


class ReviewDiff(SQLModel):
    source: Literal['forge', 'git']
    base: str | None = None
    head: str
    files: list[ReviewFile] = []
    additions: int = 0
    deletions: int = 0
    truncated: bool = False  # more files than are shown


class RunReview(SQLModel):
    run_id: str
    issue: ReviewIssue | None = None
    pull_request: ReviewPullRequest | None = None
    diff: ReviewDiff | None = None
    problems: list[str] = []  # what could not be read (a forge that did not answer): shown, never a 500
