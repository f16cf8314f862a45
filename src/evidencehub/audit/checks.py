"""Quality checks beyond presence, named in the rubric (``checks: [{check: steps, min: 5}]``).

A check reads the values found for a field and returns issues: a blocking
issue makes the field *insufficient*; a note (``blocking=False``) is reported
but does not lower the score. Issue codes are message keys of the i18n
catalogs (``reason.<code>``), so every reason exists in English and Hebrew.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evidencehub.audit.repo import RepoIndex, find_node_ref
from evidencehub.audit.rubric import CheckSpec, Localized, Rubric, RubricField
from evidencehub.audit.schemas import DocumentField, Language, TestCaseDocument, TestEvidence, TestStep
from evidencehub.audit.text import code_blocks, list_items, normalize_label, parse_steps


@dataclass(frozen=True)
class Issue:
    code: str
    params: dict[str, Any] = field(default_factory=dict)
    blocking: bool = True
    text: Localized | None = None  # a message the rubric itself supplies


@dataclass(frozen=True)
class CheckContext:
    document: TestCaseDocument
    rubric: Rubric
    resilience: bool
    evidence: TestEvidence | None = None
    evidence_checked: bool = False
    repo: RepoIndex | None = None
    language: Language = "en"


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MinWords(_Params):
    min: int = Field(1, ge=1)


class MentionsAny(_Params):
    words: list[str] = Field(min_length=1)
    missing: Localized


class StepsParams(_Params):
    min: int = Field(5, ge=1)
    require_action: bool = True
    require_expected: bool = True


class ResilienceSteps(_Params):
    setup_words: list[str] = Field(min_length=1)
    cleanup_words: list[str] = Field(min_length=1)


PayloadFormat = Literal["json", "yaml"]


class StructuredData(_Params):
    formats: list[PayloadFormat] = Field(
        default_factory=lambda: list[PayloadFormat](("json", "yaml")), min_length=1
    )


class ExplicitAssertions(_Params):
    min: int = Field(1, ge=1)
    vague_words: list[str] = Field(default_factory=list)


class NodeIdExists(_Params):
    require_pytest: bool = True


class AutomationAgrees(_Params):
    automated_words: list[str] = Field(min_length=1)
    manual_words: list[str] = Field(min_length=1)
    require_location: bool = True


class LatestResult(_Params):
    pass


class OneOf(_Params):
    values: list[str] = Field(min_length=1)


CheckFunction = Callable[[CheckContext, Sequence[DocumentField], Any], list[Issue]]


@dataclass(frozen=True)
class Check:
    params: type[_Params]
    run: CheckFunction


def validate_check_params(spec: CheckSpec) -> str | None:
    """None when the check exists and its parameters are valid; otherwise what is wrong."""
    check = CHECKS.get(spec.check)
    if check is None:
        return f"unknown check; known checks: {', '.join(sorted(CHECKS))}"
    try:
        check.params.model_validate(spec.params)
    except ValidationError as exc:
        return "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'parameters'}: {error['msg']}"
            for error in exc.errors()
        )
    return None


def run_checks(
    context: CheckContext, rubric_field: RubricField, values: Sequence[DocumentField]
) -> list[Issue]:
    issues: list[Issue] = []
    for spec in rubric_field.checks:
        check = CHECKS[spec.check]
        issues.extend(check.run(context, values, check.params.model_validate(spec.params)))
    return issues


def field_values(document: TestCaseDocument, rubric_field: RubricField) -> list[DocumentField]:
    """The document's values that are this field, by the names the rubric allows for each kind."""
    names = rubric_field.match_names
    return [value for value in document.fields if normalize_label(value.label) in names[value.kind.value]]


def joined_text(values: Sequence[DocumentField]) -> str:
    return "\n".join(
        part
        for value in values
        for part in (value.text, "\n".join(f"- {item}" for item in value.items))
        if part
    )


def contains_word(text: str, word: str) -> bool:
    """Whole-word match for Latin words, substring match otherwise (Hebrew prefixes attach to words)."""
    lowered, needle = text.casefold(), word.casefold()
    if needle.isascii():
        return re.search(rf"(?<![\w]){re.escape(needle)}(?![\w])", lowered) is not None
    return needle in lowered


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


# --- the checks ---------------------------------------------------------------------------------------


def _min_words(context: CheckContext, values: Sequence[DocumentField], params: MinWords) -> list[Issue]:
    count = _words(joined_text(values))
    return [Issue("too_few_words", {"count": count, "min": params.min})] if count < params.min else []


def _mentions_any(context: CheckContext, values: Sequence[DocumentField], params: MentionsAny) -> list[Issue]:
    text = joined_text(values)
    if any(contains_word(text, word) for word in params.words):
        return []
    return [Issue("rubric_message", text=params.missing)]


def document_steps(values: Sequence[DocumentField]) -> list[TestStep]:
    """Structured steps when the source has them, else steps parsed from the text."""
    for value in values:
        if value.steps:
            return value.steps
    for value in values:
        steps = parse_steps(value.text)
        if steps:
            return steps
    return []


def _steps(context: CheckContext, values: Sequence[DocumentField], params: StepsParams) -> list[Issue]:
    steps = document_steps(values)
    if not steps:
        return [Issue("steps_unreadable")]
    issues = []
    if len(steps) < params.min:
        issues.append(Issue("steps_too_few", {"count": len(steps), "min": params.min}))
    if params.require_action:
        lacking = [str(step.index) for step in steps if not step.action.strip()]
        if lacking:
            issues.append(Issue("steps_no_action", {"steps": ", ".join(lacking)}))
    if params.require_expected:
        lacking = [str(step.index) for step in steps if not step.expected.strip()]
        if lacking:
            issues.append(Issue("steps_no_expected", {"steps": ", ".join(lacking)}))
    return issues


def _resilience_steps(
    context: CheckContext, values: Sequence[DocumentField], params: ResilienceSteps
) -> list[Issue]:
    if not context.resilience:
        return []
    steps = document_steps(values)
    if not steps:
        return []  # the steps check already says so
    issues = []
    if not any(contains_word(step.action, word) for step in steps for word in params.setup_words):
        issues.append(Issue("resilience_no_setup"))
    if not any(contains_word(step.action, word) for step in steps for word in params.cleanup_words):
        issues.append(Issue("resilience_no_cleanup"))
    return issues


def structured_payload(text: str, formats: Sequence[str] = ("json", "yaml")) -> tuple[Any | None, str | None]:
    """(payload, error): the first JSON/YAML mapping or list in code blocks or in the whole text."""
    error = None
    for block in [*code_blocks(text), text]:
        candidate = block.strip()
        if not candidate:
            continue
        if "json" in formats:
            try:
                value = json.loads(candidate)
            except json.JSONDecodeError as exc:
                if candidate[0] in "{[":
                    error = f"line {exc.lineno}: {exc.msg}"
            else:
                if isinstance(value, dict | list) and value:
                    return value, None
        if "yaml" in formats:
            try:
                value = yaml.safe_load(candidate)
            except yaml.YAMLError:
                continue
            if isinstance(value, dict | list) and value and not _is_prose_list(value):
                return value, None
    return None, error


def _is_prose_list(value: Any) -> bool:
    """A Markdown bullet list parses as a YAML list of sentences; that is not a payload."""
    return isinstance(value, list) and all(isinstance(item, str) and " " in item for item in value)


def _structured_data(
    context: CheckContext, values: Sequence[DocumentField], params: StructuredData
) -> list[Issue]:
    text = joined_text(values)
    payload, error = structured_payload(text, params.formats)
    if payload is not None:
        return []
    if error:
        return [Issue("data_invalid", {"error": error})]
    excerpt = " ".join(text.split())
    return [Issue("data_unstructured", {"excerpt": excerpt[:60] + ("…" if len(excerpt) > 60 else "")})]


_LITERAL = re.compile(r"\d|[\"'`]|\b\w+_\w+\b|\{|\}")
_COMPARATOR = re.compile(
    r"==|!=|>=|<=|[<>≠≤≥]|\b(in|not|no|none|never|zero|equals?|contains?|includes?|names?|mentions?|matches|"
    r"exactly|at least|at most|within|absent|empty|returns?|returned|is|are)\b|אין|לא|שווה|מכיל|בדיוק",
    re.IGNORECASE,
)


def assertion_is_explicit(item: str, vague_words: Sequence[str]) -> bool:
    """An assertion a machine could check: a concrete value, or a comparison without vague words."""
    if _LITERAL.search(item):
        return True
    vague = any(contains_word(item, word) for word in vague_words)
    return bool(_COMPARATOR.search(item)) and not vague


def _explicit_assertions(
    context: CheckContext, values: Sequence[DocumentField], params: ExplicitAssertions
) -> list[Issue]:
    items = list_items(joined_text(values))
    explicit = [item for item in items if assertion_is_explicit(item, params.vague_words)]
    vague = [item for item in items if item not in explicit]
    issues = []
    if vague:
        quoted = "; ".join(f"“{item[:60]}”" for item in vague[:3])
        issues.append(Issue("assertions_vague", {"items": quoted}))
    if len(explicit) < params.min:
        issues.append(Issue("assertions_too_few", {"count": len(explicit), "min": params.min}))
    return issues


def _node_id_exists(
    context: CheckContext, values: Sequence[DocumentField], params: NodeIdExists
) -> list[Issue]:
    text = joined_text(values)
    ref = find_node_ref(text)
    if ref is None:
        return [Issue("command_no_node")] if params.require_pytest else []
    if context.repo is None:
        return [Issue("command_unverified", {"node": ref.node_id}, blocking=False)]
    exists, problem = context.repo.resolve(ref)
    if exists:
        return []
    if problem == "no_file":
        return [Issue("command_no_file", {"file": ref.file, "repo": str(context.repo.root)})]
    return [
        Issue("command_no_test", {"file": ref.file, "test": "::".join([*ref.classes, ref.function or ""])})
    ]


def claims(text: str, params: AutomationAgrees) -> Literal["manual", "automated"] | None:
    """What an Automation Status value claims; "not automated" is manual, so manual words go first."""
    if any(contains_word(text, word) for word in params.manual_words):
        return "manual"
    if any(contains_word(text, word) for word in params.automated_words):
        return "automated"
    return None


def _automation_agrees(
    context: CheckContext, values: Sequence[DocumentField], params: AutomationAgrees
) -> list[Issue]:
    text = joined_text(values)
    claim = claims(text, params)
    evidence = context.evidence
    if claim == "manual" and evidence is not None:
        return [
            Issue(
                "automation_contradicts", {"value": " ".join(text.split())[:40], **evidence_params(evidence)}
            )
        ]
    issues = []
    names_code = find_node_ref(text) is not None or re.search(r"\btest_\w+|\bTest[A-Z]\w+", text)
    if claim == "automated" and params.require_location and context.document.code is None and not names_code:
        issues.append(Issue("automation_no_location"))
    if claim == "automated" and context.evidence_checked and evidence is None:
        issues.append(Issue("automation_never_ran", blocking=False))
    return issues


_STATUS_WORDS = {
    "passed": ("pass", "passed", "passing", "ok", "success", "successful", "green", "עבר", "עברה", "הצליח"),
    "failed": ("fail", "failed", "failing", "failure", "red", "נכשל", "נכשלה"),
    "error": ("error", "errored", "broken", "aborted", "שגיאה"),
    "skipped": ("skip", "skipped", "todo", "not run", "not executed", "דולג", "דולגה"),
}


def evidence_params(evidence: TestEvidence) -> dict[str, Any]:
    return {
        "run": evidence.run_id,
        "build": evidence.build,
        "date": evidence.executed_at.strftime("%Y-%m-%d") if evidence.executed_at else "?",
        "status": evidence.status.upper(),
        "environment": evidence.environment or "?",
    }


def _latest_result(
    context: CheckContext, values: Sequence[DocumentField], params: LatestResult
) -> list[Issue]:
    evidence = context.evidence
    if evidence is None:
        return []
    text = joined_text(values)
    mentioned = [
        status for status, words in _STATUS_WORDS.items() if any(contains_word(text, word) for word in words)
    ]
    facts = evidence_params(evidence)
    if mentioned and evidence.status not in mentioned:
        return [Issue("results_outdated", {"claimed": mentioned[0].upper(), **facts})]
    run_named = facts["date"] in text or contains_word(text, evidence.build) or f"#{evidence.run_id}" in text
    if not mentioned or not run_named:
        return [Issue("results_unnamed_run", facts)]
    return []


def _one_of(context: CheckContext, values: Sequence[DocumentField], params: OneOf) -> list[Issue]:
    text = joined_text(values)
    if any(contains_word(text, value) for value in params.values):
        return []
    return [Issue("not_one_of", {"values": ", ".join(params.values)})]


CHECKS: dict[str, Check] = {
    "min_words": Check(MinWords, _min_words),
    "mentions_any": Check(MentionsAny, _mentions_any),
    "steps": Check(StepsParams, _steps),
    "resilience_steps": Check(ResilienceSteps, _resilience_steps),
    "structured_data": Check(StructuredData, _structured_data),
    "explicit_assertions": Check(ExplicitAssertions, _explicit_assertions),
    "node_id_exists": Check(NodeIdExists, _node_id_exists),
    "automation_agrees": Check(AutomationAgrees, _automation_agrees),
    "latest_result": Check(LatestResult, _latest_result),
    "one_of": Check(OneOf, _one_of),
}


def is_resilience(document: TestCaseDocument, rubric: Rubric) -> bool:
    """Whether the ticket tests behaviour under a failure (by the rubric's keywords)."""
    text = document.all_text()
    return any(contains_word(text, word) for word in rubric.resilience_keywords)
