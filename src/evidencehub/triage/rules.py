"""Triage rules: the built-in knowledge base and user rule files, both YAML.

A rule file looks like::

    rules:
      - name: staging-broker-down
        category: system_issue
        description: RabbitMQ on staging drops connections during deploys.
        when:
          status: [error]                  # failed and/or error; any when absent
          exception: ConnectionResetError  # regex, searched in the exception type
          message: "(?i)rabbitmq|amqp"     # regex, searched in the message
          trace: "pika/"                   # regex, searched in the stack trace
          text: "Connection reset"         # regex, searched in exception type, message and trace
          test: "^tests/messaging/"        # regex, searched in "classname::name"
          flaky: false                     # the failure is (not) tagged flaky
          raised_in_test_code: true        # the innermost project frame is test code

Every condition given must hold; the first rule that matches wins (as in
Allure's categories and ReportPortal's pattern analysis). Regexes use Python
syntax and search anywhere in the text (the first and last 8 KB of a longer
one); they ignore case unless the rule says ``ignore_case: false``. They run
on RE2 when RE2 accepts them (nearly always: it lacks only look-arounds and
back-references, which fall back to Python's ``re``). Files are validated when loaded: an error names the
file, the rule and the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import re2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evidencehub.errors import ConfigError, InputError
from evidencehub.triage.categories import Category

BUILTIN_RULES_RESOURCE = "builtin.yaml"
BUILTIN_ORIGIN = "built-in"
# Regexes search at most this much of a long message or trace (its head and tail): bounded cost.
MAX_SEARCH_CHARS = 16_384
REGEX_FIELDS = ("exception", "test", "message", "trace", "text")


class RuleConditions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: list[str] | None = None
    exception: str | None = None
    message: str | None = None
    trace: str | None = None
    text: str | None = None
    test: str | None = None
    flaky: bool | None = None
    raised_in_test_code: bool | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _status_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            allowed = {"failed", "error"}
            unknown = [item for item in value if item not in allowed]
            if unknown:
                raise ValueError(f"unknown status {unknown}; a rule matches 'failed' and/or 'error'")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> RuleConditions:
        if all(value is None for value in self.model_dump().values()):
            raise ValueError("a rule needs at least one condition under 'when'")
        return self


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[\w.:/-]+$")
    category: Category
    description: str = ""
    ignore_case: bool = True
    when: RuleConditions


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[RuleSpec] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FailureFacts:
    """What rules look at for one failure."""

    status: str
    exception: str  # short type, e.g. ConnectionRefusedError
    failure_type: str  # as reported, possibly qualified
    message: str
    trace: str
    test: str  # classname::name
    flaky: bool
    raised_in_test_code: bool


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    category: Category
    description: str
    origin: str  # the file it came from, or "built-in"
    statuses: frozenset[str] | None
    exception: re.Pattern[str] | None
    message: re.Pattern[str] | None
    trace: re.Pattern[str] | None
    text: re.Pattern[str] | None
    test: re.Pattern[str] | None
    flaky: bool | None
    raised_in_test_code: bool | None

    def matches(self, facts: FailureFacts, hits: dict[str, set[int]], position: int) -> bool:
        """Whether every condition holds; ``hits`` says which rules' regexes matched each field."""
        if self.statuses is not None and facts.status not in self.statuses:
            return False
        if self.flaky is not None and facts.flaky is not self.flaky:
            return False
        if self.raised_in_test_code is not None and facts.raised_in_test_code is not self.raised_in_test_code:
            return False
        return all(getattr(self, field) is None or position in hits[field] for field in REGEX_FIELDS)

    def explain(self) -> str:
        what = f": {self.description}" if self.description else ""
        where = "built-in rule" if self.origin == BUILTIN_ORIGIN else f"rule from {self.origin}"
        return f"matched {where} '{self.name}'{what}"


def searchable(text: str) -> str:
    """The part of a long text regexes search: its head and its tail (errors sit at one end or the other)."""
    if len(text) <= MAX_SEARCH_CHARS:
        return text
    half = MAX_SEARCH_CHARS // 2
    return f"{text[:half]}\n{text[-half:]}"


class _FieldMatcher:
    """The regexes of one condition field of a rule set, matched in one pass.

    RE2's Set runs every pattern in a single linear scan (hundreds of times faster
    than trying Python regexes one by one on long logs). A pattern RE2 cannot
    compile (look-arounds, back-references) is searched with Python's ``re``.
    """

    def __init__(self, patterns: Sequence[tuple[int, re.Pattern[str]]]) -> None:
        self._positions: list[int] = []
        self._fallback: list[tuple[int, re.Pattern[str]]] = []
        self._set: Any = None
        candidates = re2.Set.SearchSet()
        for position, pattern in patterns:
            flags = "(?i)" if pattern.flags & re.IGNORECASE else ""
            try:
                candidates.Add(flags + pattern.pattern)
            except re2.error:
                self._fallback.append((position, pattern))
                continue
            self._positions.append(position)
        if self._positions:
            candidates.Compile()
            self._set = candidates

    def matching(self, *texts: str) -> set[int]:
        found: set[int] = set()
        for text in texts:
            if not text:
                continue
            if self._set is not None:
                hits = self._set.Match(text)
                if hits:
                    found.update(self._positions[hit] for hit in hits)
            for position, pattern in self._fallback:
                if position not in found and pattern.search(text):
                    found.add(position)
        return found


@dataclass(frozen=True)
class RuleSet:
    """Rules in the order they are tried; the first match wins."""

    rules: tuple[Rule, ...]

    @cached_property
    def _matchers(self) -> dict[str, _FieldMatcher]:
        return {
            field: _FieldMatcher(
                [
                    (position, pattern)
                    for position, rule in enumerate(self.rules)
                    if (pattern := getattr(rule, field)) is not None
                ]
            )
            for field in REGEX_FIELDS
        }

    def first_match(self, facts: FailureFacts) -> Rule | None:
        if not self.rules:
            return None
        matchers = self._matchers
        message, trace = searchable(facts.message), searchable(facts.trace)
        hits = {
            "exception": matchers["exception"].matching(facts.exception, facts.failure_type),
            "test": matchers["test"].matching(facts.test),
            "message": matchers["message"].matching(message),
            "trace": matchers["trace"].matching(trace),
            "text": matchers["text"].matching(facts.failure_type, message, trace),
        }
        for position, rule in enumerate(self.rules):
            if rule.matches(facts, hits, position):
                return rule
        return None

    def __len__(self) -> int:
        return len(self.rules)

    def __add__(self, other: RuleSet) -> RuleSet:
        return RuleSet(self.rules + other.rules)


def _compile(pattern: str | None, *, ignore_case: bool, where: str, field: str) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:
        raise ConfigError(
            f"{where}, field '{field}': invalid regular expression {pattern!r}: {exc}",
            details={"field": field, "pattern": pattern},
        ) from None


def _build(spec: RuleSpec, origin: str, index: int) -> Rule:
    where = f"{origin}: rule {index + 1} ('{spec.name}')"
    conditions = spec.when

    def compiled(field: str) -> re.Pattern[str] | None:
        return _compile(
            getattr(conditions, field), ignore_case=spec.ignore_case, where=where, field=f"when.{field}"
        )

    return Rule(
        name=spec.name,
        category=spec.category,
        description=spec.description,
        origin=origin,
        statuses=frozenset(conditions.status) if conditions.status else None,
        exception=compiled("exception"),
        message=compiled("message"),
        trace=compiled("trace"),
        text=compiled("text"),
        test=compiled("test"),
        flaky=conditions.flaky,
        raised_in_test_code=conditions.raised_in_test_code,
    )


def _rule_position(data: Any, location: Sequence[int | str]) -> str:
    """'rule 3 ('name')' for a validation error located under rules[2]."""
    if len(location) >= 2 and location[0] == "rules" and isinstance(location[1], int):
        index = location[1]
        name = None
        rules = data.get("rules") if isinstance(data, dict) else None
        if isinstance(rules, list) and index < len(rules) and isinstance(rules[index], dict):
            name = rules[index].get("name")
        field = ".".join(str(part) for part in location[2:]) or "(the rule)"
        label = f"rule {index + 1}" + (f" ('{name}')" if name else "")
        return f"{label}, field '{field}'"
    return f"field '{'.'.join(str(part) for part in location) or '(top level)'}'"


def parse_rules(text: str, origin: str) -> RuleSet:
    """Validate and compile the rules of one YAML document; ConfigError naming the rule and field."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{origin}{where}: not valid YAML: {problem}", details={"file": origin}) from None
    if data is None:
        data = {}
    if isinstance(data, list):  # a bare list of rules is accepted too
        data = {"rules": data}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: expected a mapping with a 'rules' list", details={"file": origin})
    try:
        parsed = RuleFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_rule_position(data, error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ConfigError(f"{origin}: invalid rules: {problems}", details={"file": origin}) from None
    seen: set[str] = set()
    for index, spec in enumerate(parsed.rules):
        if spec.name in seen:
            raise ConfigError(
                f"{origin}: rule {index + 1}: the name '{spec.name}' is used twice; names must be unique",
                details={"file": origin, "rule": spec.name},
            )
        seen.add(spec.name)
    return RuleSet(tuple(_build(spec, origin, index) for index, spec in enumerate(parsed.rules)))


def load_rule_file(path: Path) -> RuleSet:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot read rule file {path}: {exc.strerror}", details={"file": str(path)}
        ) from None
    return parse_rules(text, str(path))


_builtin_cache: RuleSet | None = None


def builtin_rules() -> RuleSet:
    """The knowledge base shipped with evidencehub (``triage/rules/builtin.yaml``)."""
    global _builtin_cache  # noqa: PLW0603 - parsed once per process; the file is part of the package
    if _builtin_cache is None:
        text = (
            resources.files("evidencehub.triage").joinpath("rules", BUILTIN_RULES_RESOURCE).read_text("utf-8")
        )
        _builtin_cache = parse_rules(text, BUILTIN_ORIGIN)
    return _builtin_cache


_user_cache: dict[tuple[str, float, int], RuleSet] = {}


def user_rules(paths: Iterable[Path]) -> RuleSet:
    """The user's rule files in order, re-read when a file changes."""
    combined = RuleSet(())
    for path in paths:
        try:
            stat = path.stat()
        except OSError as exc:
            raise ConfigError(
                f"triage rule file {path} (setting triage.rules_files) cannot be read: {exc.strerror}",
                details={"file": str(path)},
            ) from None
        key = (str(path.resolve()), stat.st_mtime, stat.st_size)
        if key not in _user_cache:
            _user_cache[key] = load_rule_file(path)
        combined = combined + _user_cache[key]
    return combined
