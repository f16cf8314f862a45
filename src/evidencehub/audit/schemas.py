"""Shapes of the audit domain: the internal test-case document and the audit results.

Every source (Jira JSON, Xray CSV, Markdown, pytest code, and any added later)
produces :class:`TestCaseDocument`; checks, scoring, templates and reports only
ever see that shape.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

Severity = Literal["critical", "important", "nice_to_have"]
SEVERITIES: tuple[Severity, ...] = ("critical", "important", "nice_to_have")
Language = Literal["en", "he"]
LANGUAGES: tuple[Language, ...] = ("en", "he")


class FieldKind(StrEnum):
    """Where in a source a value was found (the rubric says which kinds each field may use)."""

    JIRA_FIELD = "jira_field"  # a Jira field (standard or customfield_*), or a CSV column
    HEADING = "heading"  # a section of a description or Markdown document, by its heading
    DOCSTRING = "docstring_section"  # a section of a pytest test's docstring
    DERIVED = "derived"  # computed by the source itself (issue key, issue links, markers)


class TestStep(BaseModel):
    """One manual step as Xray keeps it: Action, Data, Expected Result."""

    __test__ = False

    index: int
    action: str = ""
    data: str = ""
    expected: str = ""


class DocumentField(BaseModel):
    """A named value as the source spells it, with where it came from."""

    label: str
    kind: FieldKind
    text: str = ""
    items: list[str] = Field(default_factory=list)
    steps: list[TestStep] | None = None
    location: str = ""

    @property
    def is_empty(self) -> bool:
        return not self.text.strip() and not self.items and not self.steps


class CodeLink(BaseModel):
    """A pytest test that implements the ticket."""

    node_id: str
    file: str
    classname: str | None = None
    function: str
    line: int | None = None
    markers: list[str] = Field(default_factory=list)


class TestCaseDocument(BaseModel):
    """One test case as any source describes it."""

    __test__ = False

    key: str | None = None
    summary: str | None = None
    source: str
    source_format: str
    fields: list[DocumentField] = Field(default_factory=list)
    code: CodeLink | None = None
    url: str | None = None

    def add(
        self,
        label: str,
        kind: FieldKind,
        text: str = "",
        *,
        items: list[str] | None = None,
        steps: list[TestStep] | None = None,
        location: str = "",
    ) -> None:
        """Add a value unless it is empty (sources call this for everything they read)."""
        field = DocumentField(
            label=label, kind=kind, text=text.strip(), items=items or [], steps=steps, location=location
        )
        if not field.is_empty:
            self.fields.append(field)

    @property
    def display_key(self) -> str:
        return self.key or self.summary or self.source

    def all_text(self) -> str:
        """Every value's text, for heuristics that look for endpoints, codes or dependency names."""
        parts = [self.summary or ""]
        for field in self.fields:
            parts.append(field.text)
            parts.extend(field.items)
            for step in field.steps or []:
                parts.extend((step.action, step.data, step.expected))
        return "\n".join(part for part in parts if part)


class TestEvidence(BaseModel):
    """The latest ingested result of the test a ticket is linked to."""

    __test__ = False

    status: str
    run_id: int
    project: str
    build: str
    release: str | None = None
    environment: str | None = None
    executed_at: dt.datetime | None = None
    test_key: str
    classname: str | None = None
    name: str
    message: str | None = None
    matched_by: str  # "xray key property", "pytest node id", …


FieldStatus = Literal["present", "missing", "insufficient"]


class FieldFinding(BaseModel):
    """The verdict on one rubric field of one ticket."""

    field: str  # the field's English name, as in the rubric ("Test Steps")
    id: str
    label: str  # the name in the report's language
    severity: Severity
    status: FieldStatus
    reason: str | None = None
    found_in: str | None = None
    what: str = ""
    why: str = ""
    where: str = ""


class TicketAudit(BaseModel):
    key: str | None
    summary: str | None
    source: str
    source_format: str
    score: float
    fields: list[FieldFinding]
    not_applicable: list[str] = Field(default_factory=list)
    automated: bool | None = None
    contradiction: str | None = None
    evidence: TestEvidence | None = None
    code: CodeLink | None = None
    template: str | None = None


class FieldCount(BaseModel):
    field: str
    id: str
    label: str
    severity: Severity
    missing: int
    insufficient: int


class AuditSummary(BaseModel):
    tickets: int
    average_score: float
    lowest_score: float | None
    distribution: dict[str, int]
    most_often_missing: list[FieldCount]
    contradictions: list[dict[str, str]]
    below_threshold: list[str] = Field(default_factory=list)
    fail_under: float | None = None


class AuditResult(BaseModel):
    """What ``evidencehub audit`` prints with ``--format json``."""

    rubric: str
    rubric_version: str
    language: Language
    tickets: list[TicketAudit]
    summary: AuditSummary
    report_id: int | None = None


class StoredReport(BaseModel):
    """A stored audit report, its summary in one language."""

    id: int
    project: str
    created_at: dt.datetime
    created_by: str | None
    rubric: str
    rubric_version: str
    sources: list[str]
    tickets: int
    average_score: float
    summary: AuditSummary


class StoredTicket(BaseModel):
    """One ticket of a stored report: score, findings and filled template in one language."""

    id: int
    report_id: int
    key: str | None
    summary: str | None
    score: float
    audit: TicketAudit
    template: str | None


class TicketScore(BaseModel):
    """A ticket's line in a stored report: its score and how many fields are missing or insufficient."""

    id: int
    key: str | None
    summary: str | None
    score: float
    missing: int
    insufficient: int


class StoredReportDetail(StoredReport):
    """A stored report with its tickets' scores, in the order they were read."""

    ticket_scores: list[TicketScore]
