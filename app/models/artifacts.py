"""Artifacts and test reports (docs/artifacts.md): the files a run left in `$RUNBOARD_ARTIFACTS_DIR` (kept in the
artifact store, one row each, refused ones too), and the JUnit results parsed from them (one totals row per run,
one row per test case). The tables and their API schemas; the domain is services/artifacts/."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import BigInteger, Column, Index, Text, false
from sqlmodel import Field, SQLModel

from app.models.vocabulary import utcnow

# how a test's result in a run reads against earlier runs (app/services/artifacts/history.py)
TestMark = Literal['new', 'still_failing', 'flaky', 'failing_on_base', 'fixed']


class TestTotals(SQLModel):
    """A run's JUnit totals: the table's columns and the API's `totals`."""

    total: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    duration_seconds: float = 0.0


# ---------------------------------------------------------------- tables
class Artifact(SQLModel, table=True):
    """One file a run left. `stored`: its bytes are in the artifact store under `<run_id>/<path>`; otherwise
    `refused` says why not (past the run's limit, not a regular file). Retention deletes expired rows with their
    files (services/artifacts/retention.py)."""

    __table_args__ = (Index('ix_artifact_created', 'created_at'),)
    run_id: str = Field(foreign_key='run.id', primary_key=True, ondelete='CASCADE')
    path: str = Field(primary_key=True, max_length=1024)  # relative, '/'-separated, no '..'
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    content_type: str = Field(max_length=200)
    stored: bool
    refused: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    # a text file's preview (its first PREVIEW_BYTES) was read for the run's masked values when it was kept; files kept
    # before that (or not text) were not, and their preview is the file's own bytes
    preview_checked: bool = Field(default=False, sa_column_kwargs={'server_default': false()})
    # that preview masked, only when masking changed it (services/artifacts/masked.py)
    preview: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class RunTestReport(TestTotals, table=True):
    """A run's JUnit totals, with the facts the history across runs reads (branch, commit)."""

    __tablename__ = 'testreport'
    __table_args__ = (
        Index('ix_testreport_project_run', 'project_id', 'run_id'),
        Index('ix_testreport_branch_run', 'project_id', 'branch_name', 'run_id'),
    )
    run_id: str = Field(foreign_key='run.id', primary_key=True, ondelete='CASCADE')
    project_id: str = Field(max_length=64)
    branch_name: str
    commit_sha: str | None = Field(default=None, max_length=64)
    reports: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON list of the files parsed
    problems: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # files that did not parse
    created_at: datetime = Field(default_factory=utcnow)


class RunCoverage(SQLModel, table=True):
    """A run's line coverage from the Cobertura XML among its artifacts (services/artifacts/coverage.py), with the
    facts a comparison with another run reads (branch, depth level, framework)."""

    __tablename__ = 'runcoverage'
    __table_args__ = (Index('ix_runcoverage_branch_run', 'project_id', 'branch_name', 'run_id'),)
    run_id: str = Field(foreign_key='run.id', primary_key=True, ondelete='CASCADE')
    project_id: str = Field(max_length=64)
    branch_name: str
    percent: float
    lines_covered: int | None = None
    lines_valid: int | None = None
    reports: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON list of the files read
    created_at: datetime = Field(default_factory=utcnow)


class RunTestCase(SQLModel, table=True):
    """One test case of a run's reports. `test_id` is `classname::name` (the key across runs)."""

    __tablename__ = 'testcase'
    __table_args__ = (Index('ix_testcase_test_run', 'test_id', 'run_id'),)
    run_id: str = Field(foreign_key='run.id', primary_key=True, ondelete='CASCADE')
    idx: int = Field(primary_key=True)
    test_id: str = Field(max_length=1000)
    classname: str = Field(default='', max_length=500)
    name: str = Field(max_length=500)
    status: str = Field(max_length=10)
    duration_seconds: float = 0.0
    message: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    trace: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # a failed or errored test's <system-out> / <system-err>: its last 16 KiB each (migration 0048)
    system_out: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    system_err: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    report: str = Field(default='', max_length=1024)  # the artifact it came from


class RunSummary(SQLModel, table=True):
    """The summary a run wrote (`$RUNBOARD_SUMMARY`, kept as its artifact `summary.md`) as its page shows it: its
    first MiB, masked with the run's secrets and `::add-mask::` values when it was kept (services/artifacts/
    collect.py), as its log is. The artifact itself stays as the run wrote it."""

    __tablename__ = 'runsummary'
    run_id: str = Field(foreign_key='run.id', primary_key=True, ondelete='CASCADE')
    text: str = Field(sa_column=Column(Text, nullable=False))
    size: int = Field(sa_column=Column(BigInteger, nullable=False))  # of the file, in bytes
    cut: bool = False  # the file is longer than what is kept here
    created_at: datetime = Field(default_factory=utcnow)


# ---------------------------------------------------------------- API schemas
class ArtifactPublic(SQLModel):
    path: str
    size: int
    content_type: str
    stored: bool
    refused: str | None = None
    created_at: datetime
    url: str  # GET this for its bytes (the API; with ?download=true as an attachment)


class ArtifactPreview(SQLModel):
    """What the Artifacts tab shows of a text file: its first PREVIEW_BYTES as UTF-8, masked as the run's log is."""

    path: str
    text: str
    cut: bool  # the file is longer: the rest is in its download
    masked: bool  # values were masked in `text` (the download is the file as the run wrote it)
    checked: bool  # false for a file kept before previews were masked: `text` is its own bytes, unchecked


class ArtifactList(SQLModel):
    items: list[ArtifactPublic]
    total_bytes: int  # of the stored ones
    limit_bytes: int  # RUNBOARD_MAX_ARTIFACT_BYTES of the server answering
    retention_days: float
    removed_at: datetime | None = None  # retention removed the run's artifacts then: they expired


class TestCasePublic(SQLModel):
    test_id: str
    classname: str
    name: str
    status: str
    duration_seconds: float
    message: str | None = None
    trace: str | None = None
    system_out: str | None = None  # failed and errored tests: what they printed (the report's <system-out>)
    system_err: str | None = None
    report: str = ''
    mark: TestMark | None = None  # failures and fixed tests: against earlier runs (None: no earlier results to compare)
    # still_failing: the first run of the streak; flaky: the run it passed in; failing_on_base: the base branch's run
    # that failed it; fixed: the run compared with
    since_run_id: str | None = None


class RunSummaryPublic(SQLModel):
    run_id: str
    text: str  # Markdown, masked as the run's log is
    size: int  # of the file the run wrote
    cut: bool  # the file is longer: the rest is in its artifact summary.md


class CoveragePublic(SQLModel):
    percent: float
    lines_covered: int | None = None
    lines_valid: int | None = None
    reports: list[str] = []
    compared_with: str | None = None  # the run compared with (as for the tests), when it had coverage too
    change: float | None = None  # percentage points against that run


class RunTests(SQLModel):
    run_id: str
    has_report: bool
    totals: TestTotals
    reports: list[str] = []
    problems: str | None = None
    failures: list[TestCasePublic] = []  # failed and errored, each with its mark
    fixed: list[TestCasePublic] = []  # passed here, failed by the run compared with
    # the previous run with results at the same depth level and framework, on the branch, else on the base branch
    compared_with: str | None = None
    base_branch: str | None = None  # compared with where the run's branch had no result (None: the base itself)
    skipped: list[TestCasePublic] = []
    slowest: list[TestCasePublic] = []  # the 10 slowest
    failures_truncated: bool = False
    coverage: CoveragePublic | None = None  # from its Cobertura XML, with or without a JUnit report


class FlakyTest(SQLModel):
    test_id: str
    flaky_commits: int  # commits on which it both passed and failed (at one depth level and framework)
    failures: int
    runs: int
    last_failed_run_id: str | None = None


class TestHistoryPoint(SQLModel):
    run_id: str
    branch_name: str
    created_at: datetime
    total: int
    failed: int  # failed + errors
    skipped: int


class CoveragePoint(SQLModel):
    run_id: str
    depth_level: str
    target_framework: str
    created_at: datetime
    percent: float


class ProjectTests(SQLModel):
    flakiest: list[FlakyTest]
    history: list[TestHistoryPoint]  # oldest first
    coverage_branch: str  # the base branch: its coverage is the project's (GitLab charts the default branch's)
    coverage: list[CoveragePoint] = []  # its last runs with coverage, oldest first
