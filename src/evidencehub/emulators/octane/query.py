"""Octane's query grammar (SPEC §4.4), parsed into a tree and evaluated against stored entities.

Covered: phrases ``field OP value`` with ``EQ LT GT LE GE IN BTW`` and the
symbolic ``= < > <= >=``; strings in ``'…'`` (backslash escapes) or ``^…^``
with ``*`` wildcards; numbers, booleans, ``null`` (value fields) and
``{null}`` (reference fields); ``IN a,b,c``; ``BTW a...b``; ``;`` (AND),
``||`` (OR), ``!`` (NOT) and parentheses; cross-filters on references
``release EQ {id EQ 1004}``, nested to any depth.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Entity = dict[str, Any]
Resolver = Callable[[dict[str, Any]], Entity | None]


class QuerySyntaxError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.position = position


# ---------------------------------------------------------------- tokens

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<caret>\^[^^]*\^)
  | (?P<range>\.\.\.)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<or>\|\|)
  | (?P<symbol><=|>=|=|<|>)
  | (?P<punct>[(){};,!])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    """,
    re.VERBOSE,
)
_WORD_OPERATORS = {"EQ", "LT", "GT", "LE", "GE", "IN", "BTW"}
_SYMBOLS = {"=": "EQ", "<": "LT", ">": "GT", "<=": "LE", ">=": "GE"}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise QuerySyntaxError(f"unexpected character {text[position]!r}", position)
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    return tokens


# ---------------------------------------------------------------- tree


@dataclass(frozen=True)
class Literal:
    value: Any  # str, int, float, bool or None (bare null)


@dataclass(frozen=True)
class NullReference:
    """``{null}``: the reference is empty."""


@dataclass(frozen=True)
class CrossFilter:
    condition: Node


@dataclass(frozen=True)
class Phrase:
    field: str
    operator: str
    value: Literal | NullReference | CrossFilter | tuple[Literal, ...]


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    part: Node


Node = Phrase | And | Or | Not


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise QuerySyntaxError("unexpected end of query", len(self.text))
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise QuerySyntaxError(f"expected {text!r}, found {token.text!r}", token.position)

    def at(self, text: str) -> bool:
        token = self.peek()
        return token is not None and token.text == text

    def parse(self) -> Node:
        node = self.expression()
        token = self.peek()
        if token is not None:
            raise QuerySyntaxError(f"unexpected {token.text!r}", token.position)
        return node

    def expression(self) -> Node:
        parts = [self.conjunction()]
        while self.at("||"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def conjunction(self) -> Node:
        parts = [self.unary()]
        while self.at(";"):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self) -> Node:
        if self.at("!"):
            self.take()
            return Not(self.unary())
        if self.at("("):
            self.take()
            node = self.expression()
            self.expect(")")
            return node
        return self.phrase()

    def phrase(self) -> Phrase:
        field = self.take()
        if field.kind != "word":
            raise QuerySyntaxError(f"expected a field name, found {field.text!r}", field.position)
        operator_token = self.take()
        if operator_token.kind == "symbol":
            operator = _SYMBOLS[operator_token.text]
        elif operator_token.kind == "word" and operator_token.text in _WORD_OPERATORS:
            operator = operator_token.text
        else:
            raise QuerySyntaxError(
                f"expected an operator (EQ, LT, GT, LE, GE, IN, BTW) after {field.text!r}, "
                f"found {operator_token.text!r}",
                operator_token.position,
            )
        if operator == "IN":
            values = [self.literal()]
            while self.at(","):
                self.take()
                values.append(self.literal())
            return Phrase(field.text, operator, tuple(values))
        if operator == "BTW":
            low = self.literal()
            if not self.at("..."):
                token = self.peek()
                raise QuerySyntaxError("expected '...' in BTW", token.position if token else len(self.text))
            self.take()
            return Phrase(field.text, operator, (low, self.literal()))
        if self.at("{"):
            self.take()
            if self.at("null"):
                self.take()
                self.expect("}")
                return Phrase(field.text, operator, NullReference())
            condition = self.expression()
            self.expect("}")
            return Phrase(field.text, operator, CrossFilter(condition))
        return Phrase(field.text, operator, self.literal())

    def literal(self) -> Literal:
        token = self.take()
        if token.kind == "string":
            return Literal(re.sub(r"\\(.)", r"\1", token.text[1:-1]))
        if token.kind == "caret":
            return Literal(token.text[1:-1])
        if token.kind == "number":
            return Literal(float(token.text) if "." in token.text else int(token.text))
        if token.kind == "word" and token.text in {"null", "true", "false"}:
            return Literal({"null": None, "true": True, "false": False}[token.text])
        raise QuerySyntaxError(f"expected a value, found {token.text!r}", token.position)


def parse_query(text: str) -> Node:
    """The tree of an Octane query statement (without the surrounding double quotes)."""
    return _Parser(text).parse()


# ---------------------------------------------------------------- evaluation


def _references(value: Any) -> list[dict[str, Any]] | None:
    """The references a field holds, or None when it is not a reference field."""
    if isinstance(value, dict) and "data" in value and isinstance(value["data"], list):
        return [item for item in value["data"] if isinstance(item, dict)]
    if isinstance(value, dict) and "id" in value:
        return [value]
    return None


def _scalar(value: Any) -> Any:
    if isinstance(value, dict) and "id" in value:
        return value["id"]
    return value


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$", re.S)


_ORDERING = {
    "EQ": lambda actual, expected: actual == expected,
    "LT": lambda actual, expected: actual < expected,
    "GT": lambda actual, expected: actual > expected,
    "LE": lambda actual, expected: actual <= expected,
    "GE": lambda actual, expected: actual >= expected,
}


def _coerced(actual: Any, expected: Any) -> Any:
    """``actual`` in the type of ``expected`` (ids are strings, numbers are bare); None if impossible."""
    if isinstance(expected, int | float):
        try:
            return float(actual)
        except (TypeError, ValueError):
            return None
    return str(actual)


def _compare(actual: Any, operator: str, expected: Any) -> bool:
    actual = _scalar(actual)
    if expected is None or actual is None:
        return (actual is None) == (expected is None) and operator == "EQ"
    if isinstance(expected, bool) or isinstance(actual, bool):
        return operator == "EQ" and bool(actual) == bool(expected)
    actual = _coerced(actual, expected)
    if operator == "EQ" and isinstance(expected, str) and "*" in expected:
        return _wildcard(expected).match(actual) is not None
    try:
        return actual is not None and bool(_ORDERING[operator](actual, expected))
    except TypeError:
        return False


def matches(node: Node, entity: Entity, resolve: Resolver) -> bool:
    """Whether ``entity`` satisfies ``node``; ``resolve`` turns a reference into its entity."""
    if isinstance(node, And):
        return all(matches(part, entity, resolve) for part in node.parts)
    if isinstance(node, Or):
        return any(matches(part, entity, resolve) for part in node.parts)
    if isinstance(node, Not):
        return not matches(node.part, entity, resolve)
    return _phrase_matches(node, entity, resolve)


def _phrase_matches(phrase: Phrase, entity: Entity, resolve: Resolver) -> bool:
    value = entity.get(phrase.field)
    target = phrase.value
    if isinstance(target, NullReference):
        references = _references(value)
        empty = value is None or references == []
        return empty if phrase.operator == "EQ" else not empty
    if isinstance(target, CrossFilter):
        referenced = (resolve(reference) for reference in _references(value) or [])
        return any(item is not None and matches(target.condition, item, resolve) for item in referenced)
    if isinstance(target, tuple):
        if phrase.operator == "IN":
            references = _references(value)
            candidates: list[Any] = references if references is not None else [value]
            return any(_compare(item, "EQ", option.value) for item in candidates for option in target)
        low, high = target
        return _compare(value, "GE", low.value) and _compare(value, "LE", high.value)
    references = _references(value)
    if references is not None and len(references) != 1:
        return any(_compare(item, phrase.operator, target.value) for item in references)
    return _compare(value, phrase.operator, target.value)
