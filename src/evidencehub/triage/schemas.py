"""Pydantic shapes of the triage domain, shared by the CLI (--format json) and the web API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from evidencehub.triage.categories import Category, Source


class FailureOut(BaseModel):
    """One failure of a run and its triage. ``id`` is the result id (``triage decide --failure ID``)."""

    id: int
    test_id: int
    classname: str | None
    name: str
    status: str
    category: Category
    source: Source
    confidence: float
    cluster: str
    issue: str | None
    explanation: str
    flaky: bool
    new: bool
    regression: bool = False
    flaky_score: float = 0.0
    rule: str | None = None
    exception: str | None = None
    message: str | None = None
    decided_by: str | None = None
    comment: str | None = None


class ClusterOut(BaseModel):
    """A unique error. Counts under ``failures``/``tests`` are for the run when listed for a run."""

    id: str
    exception: str
    message: str
    category: Category
    priority: str
    status: str
    issue: str | None
    failures: int
    tests: int
    total_failures: int
    tests_affected: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    new: bool
    regressions: int = 0
    flaky: int = 0
    decided_by: str | None = None
    comment: str | None = None


class TriageSummary(BaseModel):
    failures: int
    by_category: dict[str, int]
    by_source: dict[str, int]
    clusters: int
    new_clusters: int
    flaky: int
    regressions: int
    product_bugs: int  # flaky failures excluded unless counted by configuration
    to_investigate: int
    flaky_counted_as_product_bugs: bool


class TriageReport(BaseModel):
    run: int
    project: str
    build: str
    release: str | None
    environment: str | None
    branch: str | None
    failures: list[FailureOut]
    clusters: list[ClusterOut]
    summary: TriageSummary


class TriageOutcome(BaseModel):
    """What a triage pass did."""

    run: int
    failures: int
    analysed: int  # decided automatically in this pass
    by_source: dict[str, int] = {}  # this pass's decisions by source (human via the cluster, rule, …)
    kept_human: int  # decided by people before; left as they were
    already_triaged: bool
    index_documents: int  # unique decided errors the history compared against
    seconds: float
    phases: dict[str, float] = {}  # seconds per phase: normalize, cluster, flags, history, decide, write
    cpu_phases: dict[
        str, float
    ] = {}  # CPU seconds of this thread per phase (wall time lies on a busy machine)


class DecisionOut(BaseModel):
    id: int
    scope: str
    category: Category
    issue: str | None
    comment: str | None
    actor: str
    created_at: dt.datetime
    cluster: str | None
    result_id: int | None
    failures_updated: int


class OutcomeOut(BaseModel):
    run: int
    status: str
    flaky: bool


class FlakyTestOut(BaseModel):
    test_id: int
    key: str
    classname: str | None
    name: str
    score: float
    flips: int
    observed: int
    history: list[OutcomeOut]  # oldest first


class HistoryPoint(BaseModel):
    """One run of a test, for a sparkline."""

    run: int
    build: str
    environment: str | None
    created_at: dt.datetime
    status: str
    flaky: bool
    category: Category | None
    source: Source | None


class RuleOut(BaseModel):
    name: str
    category: Category
    description: str
    origin: str


class RulesCheck(BaseModel):
    file: str
    rules: list[RuleOut]


class ClusterExample(BaseModel):
    """The first failure of a cluster in a run: what the error looks like in full."""

    failure: int  # the result id
    test: str  # the test's key
    message: str | None
    trace: str | None


class RunClusterOut(ClusterOut):
    """A cluster as listed for a run: with why it got its category and an example failure."""

    explanation: str
    example: ClusterExample | None


class FailureDetail(FailureOut):
    """One failure in full: message and trace, the run it belongs to, its test's history, its decisions."""

    run: int
    project: str
    build: str
    full_message: str | None
    trace: str | None
    duration_ms: float | None
    history: list[HistoryPoint]  # the test's last results, oldest first
    decisions: list[DecisionOut]  # of this failure and of its cluster, newest first


class RunTriageOut(BaseModel):
    """A run's triage at a glance; its failures and clusters are listed (and paged) separately."""

    run: int
    project_id: int
    project: str
    build: str
    release: str | None
    environment: str | None
    branch: str | None
    summary: TriageSummary
    triaged: TriageOutcome | None = None  # what this request's triage pass did, when it made one
