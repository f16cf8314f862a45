"""The completeness rubric: which fields a test ticket needs, how important each is, how good it must be.

The shipped default (``rubric/default.yaml``) holds the 15 fields of the Xray
completeness analysis in three priorities, plus the basics a ticket usually
has. Organisations write their own YAML in the same shape; a broken one is a
ConfigError naming the file and the field.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from evidencehub.audit.schemas import Language, Severity
from evidencehub.audit.text import normalize_label
from evidencehub.errors import ConfigError

DEFAULT_RUBRIC = "default.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(_Strict):
    en: str = Field(min_length=1)
    he: str = Field(min_length=1)

    def get(self, language: Language) -> str:
        return self.he if language == "he" else self.en


class Aliases(_Strict):
    en: list[str] = Field(default_factory=list)
    he: list[str] = Field(default_factory=list)


class Explanation(_Strict):
    what: Localized
    why: Localized
    where: Localized


class FindSpec(_Strict):
    """Where a field may be found, by source kind. Names and aliases count everywhere."""

    jira_fields: list[str] = Field(default_factory=list)
    headings: list[str] = Field(default_factory=list)
    docstring_sections: list[str] = Field(default_factory=list)
    derived: list[str] = Field(default_factory=list)


class CheckSpec(BaseModel):
    """A quality check by name with its parameters (validated against the check's own model)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    check: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class SeverityWeight(_Strict):
    weight: float = Field(gt=0)


_DEFAULT_WEIGHTS: dict[Severity, SeverityWeight] = {
    "critical": SeverityWeight(weight=5),
    "important": SeverityWeight(weight=3),
    "nice_to_have": SeverityWeight(weight=1),
}


class RubricField(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: Localized
    aliases: Aliases = Field(default_factory=Aliases)
    severity: Severity
    basic: bool = False
    applies_to: Literal["all", "resilience"] = "all"
    find: FindSpec = Field(default_factory=FindSpec)
    checks: list[CheckSpec] = Field(default_factory=list)
    explain: Explanation

    def label(self, language: Language) -> str:
        return self.name.get(language)

    @property
    def match_names(self) -> dict[str, set[str]]:
        """Normalised names by source kind; names and aliases are accepted for every kind."""
        common = {
            normalize_label(name) for name in (self.name.en, self.name.he, *self.aliases.en, *self.aliases.he)
        }
        return {
            "jira_field": common | {normalize_label(name) for name in self.find.jira_fields},
            "heading": common | {normalize_label(name) for name in self.find.headings},
            "docstring_section": common | {normalize_label(name) for name in self.find.docstring_sections},
            "derived": common | {normalize_label(name) for name in self.find.derived},
        }


class Rubric(_Strict):
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    description: str = ""
    severities: dict[Severity, SeverityWeight] = Field(default_factory=lambda: dict(_DEFAULT_WEIGHTS))
    insufficient_credit: float = Field(0.5, ge=0, le=1)
    resilience_keywords: list[str] = Field(default_factory=list)
    fields: list[RubricField] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Rubric:
        seen: set[str] = set()
        for field in self.fields:
            if field.id in seen:
                raise ValueError(f"field id '{field.id}' is used twice")
            seen.add(field.id)
        missing = {"critical", "important", "nice_to_have"} - set(self.severities)
        if missing:
            raise ValueError(f"severities lacks a weight for {sorted(missing)}")
        return self

    def weight(self, severity: Severity) -> float:
        return self.severities[severity].weight

    def field(self, field_id: str) -> RubricField:
        return next(field for field in self.fields if field.id == field_id)


def load_rubric(path: Path | None = None) -> Rubric:
    """The rubric at ``path``, or the shipped default. ConfigError names the file and the field."""
    if path is None:
        return _default_rubric()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"rubric {path}: cannot read: {exc.strerror}", details={"file": str(path)}) from exc
    return parse_rubric(text, str(path))


@cache
def _default_rubric() -> Rubric:
    text = resources.files("evidencehub.audit").joinpath("rubric", DEFAULT_RUBRIC).read_text(encoding="utf-8")
    return parse_rubric(text, f"(built-in) {DEFAULT_RUBRIC}")


def default_rubric_text() -> str:
    """The shipped rubric's YAML (a starting point for an organisation's own)."""
    return resources.files("evidencehub.audit").joinpath("rubric", DEFAULT_RUBRIC).read_text(encoding="utf-8")


def parse_rubric(text: str, source: str) -> Rubric:
    from evidencehub.audit.checks import validate_check_params

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"rubric {source}{where}: not valid YAML: {exc}", details={"file": source}) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            f"rubric {source}: expected a mapping with 'name', 'version' and 'fields'",
            details={"file": source},
        )
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            f"rubric {source}: " + "; ".join(_describe(error, data) for error in exc.errors()),
            details={"file": source, "errors": [_describe(error, data) for error in exc.errors()]},
        ) from None
    for field in rubric.fields:
        for position, spec in enumerate(field.checks):
            problem = validate_check_params(spec)
            if problem:
                raise ConfigError(
                    f"rubric {source}: field '{field.id}', checks[{position}] ({spec.check}): {problem}",
                    details={"file": source, "field": field.id, "check": spec.check},
                )
    return rubric


def _describe(error: Any, data: dict[str, Any]) -> str:
    """A pydantic error as "field 'test_steps' (fields[2]).severity: Input should be …"."""
    location = list(error["loc"])
    prefix = ""
    if len(location) >= 2 and location[0] == "fields" and isinstance(location[1], int):
        fields = data.get("fields") or []
        item = fields[location[1]] if location[1] < len(fields) else None
        field_id = item.get("id") if isinstance(item, dict) else None
        prefix = f"field '{field_id}' (fields[{location[1]}])" if field_id else f"fields[{location[1]}]"
        location = location[2:]
    path = ".".join(str(part) for part in location)
    where = f"{prefix}.{path}" if prefix and path else prefix or path or "(top level)"
    return f"{where}: {error['msg']}"
