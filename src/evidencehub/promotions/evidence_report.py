"""The evidence bundle's HTML report: one self-contained page (inline CSS, no script, nothing fetched).

Rendered by Jinja2 with autoescaping on: test names and failure messages come
from result files, which whoever controls a build controls. Links point only
inside the bundle (relative paths) or inside the page (anchors).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from jinja2 import Environment, PackageLoader, select_autoescape

from evidencehub.publish.landing_zone import FileEntry
from evidencehub.results.schemas import BuildOut, ResultExport, RunSummary, RunTotals

if TYPE_CHECKING:
    from evidencehub.triage.schemas import ClusterOut, FailureOut

MESSAGE_CHARS = 300
_STATUS_TITLES = {"failed": "Failed", "error": "Errors"}


def _first_line(text: str | None) -> str:
    line = text.strip().splitlines()[0] if text and text.strip() else ""
    return line if len(line) <= MESSAGE_CHARS else line[: MESSAGE_CHARS - 1] + "…"


@dataclass(frozen=True)
class FailureRow:
    """One failure as the report lists it, triaged or not."""

    run_id: int
    result_id: int
    test: str
    status: str
    message: str
    section: str  # triage category, or the status without triage
    section_title: str
    group: str  # cluster id, or the failure type without triage
    group_title: str
    group_detail: str = ""
    explanation: str = ""
    flags: str = ""

    @classmethod
    def from_triage(cls, run_id: int, failure: FailureOut, cluster: ClusterOut | None) -> FailureRow:
        from evidencehub.triage.categories import CATEGORY_TITLES
        from evidencehub.triage.report import cluster_title, failure_label, flags

        detail = ""
        if cluster is not None:
            parts = [f"priority {cluster.priority}", cluster.status]
            if cluster.issue:
                parts.append(f"bug {cluster.issue}")
            if cluster.new:
                parts.append("new")
            detail = " · ".join(parts)
        return cls(
            run_id=run_id,
            result_id=failure.id,
            test=failure_label(failure),
            status=failure.status,
            message=_first_line(failure.message),
            section=failure.category.value,
            section_title=CATEGORY_TITLES[failure.category],
            group=failure.cluster,
            group_title=cluster_title(cluster, 160) if cluster is not None else failure.cluster,
            group_detail=detail,
            explanation=failure.explanation,
            flags=flags(failure),
        )

    @classmethod
    def from_export(cls, row: ResultExport) -> FailureRow:
        test = f"{row.classname}.{row.name}" if row.classname else row.name
        kind = row.failure_type or "(no failure type)"
        return cls(
            run_id=row.run_id,
            result_id=row.id,
            test=test,
            status=row.status,
            message=_first_line(row.message),
            section=row.status,
            section_title=_STATUS_TITLES.get(row.status, row.status),
            group=kind,
            group_title=kind,
        )


@dataclass
class FailureGroup:
    anchor: str
    title: str
    detail: str
    rows: list[FailureRow] = field(default_factory=list)


@dataclass
class FailureSection:
    anchor: str
    key: str
    title: str
    groups: list[FailureGroup] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(len(group.rows) for group in self.groups)


def group_failures(rows: Sequence[FailureRow]) -> list[FailureSection]:
    """Sections (category or status) of groups (cluster or failure type), in the rows' first-seen order."""
    sections: dict[str, FailureSection] = {}
    groups: dict[tuple[str, str], FailureGroup] = {}
    for row in rows:
        section = sections.get(row.section)
        if section is None:
            section = sections[row.section] = FailureSection(
                anchor=f"section-{len(sections) + 1}", key=row.section, title=row.section_title
            )
        group = groups.get((row.section, row.group))
        if group is None:
            group = groups[(row.section, row.group)] = FailureGroup(
                anchor=f"group-{len(groups) + 1}", title=row.group_title, detail=row.group_detail
            )
            section.groups.append(group)
        group.rows.append(row)
    return list(sections.values())


@dataclass
class EvidenceView:
    name: str
    build: BuildOut
    runs: list[RunSummary]
    totals: RunTotals
    failures: list[FailureRow]
    failure_total: int
    triaged: bool
    originals: dict[tuple[int, str], str]  # (run id, sha256) → path in the bundle
    missing_originals: int
    files: list[FileEntry]
    generated_at: dt.datetime
    generator: str


def pass_rate(totals: RunTotals) -> str:
    executed = totals.tests - totals.skipped
    return f"{100 * totals.passed / executed:.1f}%" if executed else "–"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("evidencehub.promotions", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_evidence_report(view: EvidenceView) -> str:
    return (
        _environment()
        .get_template("evidence.html.j2")
        .render(
            view=view,
            sections=group_failures(view.failures),
            pass_rate=pass_rate,
        )
    )
