"""Rendering an audit result as Markdown, HTML or JSON, in English or Hebrew.

Markdown and HTML come from Jinja2 templates (HTML autoescaped; Hebrew HTML is
right-to-left). Every visible word comes from the i18n catalogs or the rubric.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from evidencehub.audit.i18n import message
from evidencehub.audit.schemas import SEVERITIES, AuditResult, FieldFinding, Language, Severity, TicketAudit

ReportFormat = Literal["table", "markdown", "json", "html"]
FORMATS: tuple[ReportFormat, ...] = ("table", "markdown", "json", "html")
STATUS_MARK = {"present": "✅", "missing": "❌", "insufficient": "⚠️"}


@dataclass(frozen=True)
class FixGroup:
    severity: Severity
    label: str
    findings: list[FieldFinding]


def fix_groups(ticket: TicketAudit, language: Language) -> list[FixGroup]:
    """Missing and insufficient fields, grouped by severity, critical first (the prioritized fix list)."""
    groups = []
    for severity in SEVERITIES:
        findings = [item for item in ticket.fields if item.severity == severity and item.status != "present"]
        if findings:
            groups.append(FixGroup(severity, message(language, f"severity.{severity}"), findings))
    return groups


def _md_cell(value: object) -> str:
    return " ".join(str(value or "").split()).replace("|", "\\|")


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("evidencehub.audit", "templates"),
        autoescape=select_autoescape(
            enabled_extensions=("html", "html.j2"), default_for_string=False, default=False
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["cell"] = _md_cell
    return environment


def render(result: AuditResult, fmt: ReportFormat) -> str:
    """The report as text in ``fmt`` (``table`` is rendered by the CLI with Rich; here it is Markdown)."""
    if fmt == "json":
        return json.dumps(json_view(result), indent=2, ensure_ascii=False) + "\n"
    language = result.language

    def t(key: str, **params: Any) -> str:
        return message(language, key, **params)

    name = "report.html.j2" if fmt == "html" else "report.md.j2"
    return (
        _environment()
        .get_template(name)
        .render(
            result=result,
            t=t,
            language=language,
            direction="rtl" if language == "he" else "ltr",
            fix_groups=lambda ticket: fix_groups(ticket, language),
            mark=STATUS_MARK,
        )
    )


def json_view(result: AuditResult) -> dict[str, Any]:
    """The documented JSON for tools.

    ``{"tickets": [{"key", "score", "fields": [{"field", "severity", "status", "reason"…}], "template"}],
    "summary": {…}}``
    """
    data = result.model_dump(mode="json")
    data["tickets"] = [
        {
            "key": ticket["key"],
            "summary": ticket["summary"],
            "source": ticket["source"],
            "score": ticket["score"],
            "fields": [
                {
                    "field": item["field"],
                    "id": item["id"],
                    "label": item["label"],
                    "severity": item["severity"],
                    "status": item["status"],
                    "reason": item["reason"],
                    "found_in": item["found_in"],
                    "what": item["what"],
                    "why": item["why"],
                    "where": item["where"],
                }
                for item in ticket["fields"]
            ],
            "not_applicable": ticket["not_applicable"],
            "automated": ticket["automated"],
            "contradiction": ticket["contradiction"],
            "evidence": ticket["evidence"],
            "code": ticket["code"],
            "template": ticket["template"],
        }
        for ticket in data["tickets"]
    ]
    return data
