"""Assessing one ticket against the rubric: each field present, missing or insufficient, and the score.

The assessment is language-neutral (issues are message codes); rendering in
English or Hebrew happens afterwards, so a stored report can hold both.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field

from evidencehub.audit.checks import CheckContext, Issue, field_values, run_checks
from evidencehub.audit.rubric import Rubric, RubricField
from evidencehub.audit.schemas import DocumentField, FieldStatus, TestCaseDocument


@dataclass
class FieldAssessment:
    field: RubricField
    status: FieldStatus
    values: list[DocumentField]
    issues: list[Issue] = dataclass_field(default_factory=list)


@dataclass
class Assessment:
    fields: list[FieldAssessment]
    not_applicable: list[RubricField]
    score: float


def assess(document: TestCaseDocument, rubric: Rubric, context: CheckContext) -> Assessment:
    """Every applicable rubric field's status, with the issues found and the weighted score."""
    fields: list[FieldAssessment] = []
    not_applicable: list[RubricField] = []
    for rubric_field in rubric.fields:
        if rubric_field.applies_to == "resilience" and not context.resilience:
            not_applicable.append(rubric_field)
            continue
        values = field_values(document, rubric_field)
        if not values:
            fields.append(FieldAssessment(rubric_field, "missing", [], [Issue("not_found")]))
            continue
        issues = run_checks(context, rubric_field, values)
        status: FieldStatus = "insufficient" if any(issue.blocking for issue in issues) else "present"
        fields.append(FieldAssessment(rubric_field, status, values, issues))
    return Assessment(fields, not_applicable, score(fields, rubric))


def score(fields: list[FieldAssessment], rubric: Rubric) -> float:
    """100 × earned weight / possible weight; an insufficient field earns the rubric's partial credit."""
    possible = sum(rubric.weight(item.field.severity) for item in fields)
    if possible == 0:
        return 100.0
    credit = {"present": 1.0, "insufficient": rubric.insufficient_credit, "missing": 0.0}
    earned = sum(rubric.weight(item.field.severity) * credit[item.status] for item in fields)
    return round(100 * earned / possible, 1)
