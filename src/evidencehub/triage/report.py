"""Rendering a triage report as Markdown, JSON or a self-contained HTML page.

The terminal table is drawn by the CLI (Rich); everything here returns text.
HTML goes through Jinja2 with autoescaping on, so failure messages written by
tests (or by an attacker controlling a result file) cannot inject markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from jinja2 import Environment, PackageLoader, select_autoescape

from evidencehub.triage.categories import CATEGORY_ORDER, CATEGORY_TITLES, Category
from evidencehub.triage.schemas import ClusterOut, FailureOut, TriageReport

FORMATS = ("table", "markdown", "json", "html")

_environment = Environment(
    loader=PackageLoader("evidencehub.triage", "templates"),
    autoescape=select_autoescape(["html", "j2"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def to_json(report: TriageReport) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def _cell(value: object) -> str:
    """A Markdown table cell: pipes escaped, one line."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def _row(values: Iterable[object]) -> str:
    return "| " + " | ".join(_cell(value) for value in values) + " |"


def _table(columns: Sequence[str], rows: Iterable[Iterable[object]]) -> list[str]:
    """A Markdown table's lines: header, separator, rows."""
    return [_row(columns), _row(["---"] * len(columns)), *(_row(row) for row in rows)]


def cluster_title(cluster: ClusterOut, limit: int = 100) -> str:
    message = cluster.message.splitlines()[0] if cluster.message else ""
    title = (
        f"{cluster.exception}: {message}" if cluster.exception and message else cluster.exception or message
    )
    return title if len(title) <= limit else title[: limit - 1] + "…"


def failure_label(failure: FailureOut) -> str:
    return f"{failure.classname}.{failure.name}" if failure.classname else failure.name


def flags(failure: FailureOut) -> str:
    marks = [name for name, on in (("new", failure.new), ("regression", failure.regression)) if on]
    if failure.flaky:
        marks.append(f"flaky {failure.flaky_score:.2f}")
    return ", ".join(marks)


SUMMARY_COLUMNS = ("cluster", "error", "category", "priority", "status", "bug", "failures", "tests", "new")
FAILURE_COLUMNS = ("failure", "test", "cluster", "source", "confidence", "flags", "explanation")


def summary_row(cluster: ClusterOut, *, title_chars: int = 100) -> list[object]:
    """One row of the summary table (the analysis document's: cluster, category, priority, status, bug)."""
    return [
        cluster.id,
        cluster_title(cluster, title_chars),
        cluster.category.value,
        cluster.priority,
        cluster.status,
        cluster.issue or "",
        cluster.failures,
        cluster.tests,
        "new" if cluster.new else "",
    ]


def failure_row(failure: FailureOut) -> list[object]:
    return [
        failure.id,
        failure_label(failure),
        failure.cluster,
        failure.source.value,
        f"{failure.confidence:.2f}",
        flags(failure),
        failure.explanation,
    ]


def grouped(report: TriageReport) -> list[tuple[Category, list[FailureOut]]]:
    """Failures per category, in report order, only categories that have any."""
    groups: dict[Category, list[FailureOut]] = {category: [] for category in CATEGORY_ORDER}
    for failure in report.failures:
        groups[failure.category].append(failure)
    return [(category, items) for category, items in groups.items() if items]


def heading(report: TriageReport) -> str:
    parts = [f"run {report.run}", report.project, f"build {report.build}"]
    if report.release:
        parts.append(f"release {report.release}")
    if report.branch:
        parts.append(f"branch {report.branch}")
    if report.environment:
        parts.append(report.environment)
    return " · ".join(parts)


def summary_line(report: TriageReport) -> str:
    summary = report.summary
    counts = ", ".join(f"{count} {name}" for name, count in summary.by_category.items() if count)
    flaky = f"; {summary.flaky} flaky" if summary.flaky else ""
    regressions = f"; {summary.regressions} regressions" if summary.regressions else ""
    return (
        f"{summary.failures} failures in {summary.clusters} unique errors ({summary.new_clusters} new): "
        f"{counts or 'none'}{flaky}{regressions}"
    )


def to_markdown(report: TriageReport) -> str:
    lines = [f"# Triage of {heading(report)}", "", summary_line(report), ""]
    lines += ["## Summary", ""]
    lines += _table(SUMMARY_COLUMNS, (summary_row(cluster) for cluster in report.clusters))
    for category, failures in grouped(report):
        lines += ["", f"## {CATEGORY_TITLES[category]} ({len(failures)})", ""]
        lines += _table(FAILURE_COLUMNS, (failure_row(failure) for failure in failures))
    return "\n".join(lines) + "\n"


def to_html(report: TriageReport) -> str:
    template = _environment.get_template("report.html.j2")
    return template.render(
        report=report,
        heading=heading(report),
        summary_line=summary_line(report),
        groups=grouped(report),
        titles=CATEGORY_TITLES,
        cluster_title=cluster_title,
        failure_label=failure_label,
        flags=flags,
    )
