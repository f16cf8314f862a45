"""mocha's ``json`` reporter: ``{"stats": …, "tests": […], "pending": […], "failures": […], "passes": […]}``.

A test with a non-empty ``err`` failed; one listed under ``pending`` was
skipped. An ``err`` named other than ``AssertionError`` (an exception the test
did not expect) counts as an error. The name is the ``fullTitle`` (suites and
title); mocha paths are absolute, so the file is kept but is not the class.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evidencehub.results.parsers import values
from evidencehub.results.parsers.base import DeclaredTotals, ParsedCase
from evidencehub.results.parsers.context import ParseContext
from evidencehub.results.parsers.jsonfields import integer, mapping, number, objects, text
from evidencehub.results.parsers.occurrences import Occurrences
from evidencehub.results.status import Status

FORMAT = "mocha-json"


def parse(ctx: ParseContext, document: dict[str, Any]) -> Iterator[ParsedCase]:
    """Yield every test of a mocha JSON report."""
    ctx.parsed.format = FORMAT
    stats = mapping(document.get("stats"))
    ctx.parsed.saw_time_span(
        values.timestamp(text(stats.get("start"))), values.timestamp(text(stats.get("end")))
    )
    ctx.parsed.declared = _declared(stats)
    pending_tests = objects(document.get("pending"))
    pending = {_key(test) for test in pending_tests}
    tests = objects(document.get("tests"))
    if not isinstance(document.get("tests"), list):
        tests = [*objects(document.get("passes")), *objects(document.get("failures")), *pending_tests]
    return _cases(ctx, tests, pending)


def _cases(
    ctx: ParseContext, tests: list[dict[str, Any]], pending: set[tuple[str, str]]
) -> Iterator[ParsedCase]:
    names = Occurrences()
    for test in tests:
        title = text(test.get("fullTitle")) or text(test.get("title"))
        if not title:
            ctx.warn("tests without a title were left out")
            continue
        ctx.field(title, "fullTitle", None)
        case = ParsedCase(
            names.name(None, title),
            None,
            file=text(test.get("file")),
            duration_ms=number(test.get("duration")),
        )
        error = mapping(test.get("err"))
        if error:
            kind = text(error.get("name"))
            status = Status.ERROR if kind and kind != "AssertionError" else Status.FAILED
            case.add_result(
                status,
                failure_type=ctx.field(kind, "err.name", None),
                message=ctx.field(text(error.get("message")), "err.message", None),
                trace=ctx.field(text(error.get("stack")), "err.stack", None),
            )
        elif text(test.get("state")) == "pending" or test.get("pending") is True or _key(test) in pending:
            case.add_result(Status.SKIPPED)
        yield case


def _key(test: dict[str, Any]) -> tuple[str, str]:
    return (text(test.get("file")) or "", text(test.get("fullTitle")) or text(test.get("title")) or "")


def _declared(stats: dict[str, Any]) -> DeclaredTotals | None:
    tests = integer(stats.get("tests"))
    if tests is None:
        return None
    return DeclaredTotals(
        tests=tests,
        failures=integer(stats.get("failures")) or 0,
        skipped=integer(stats.get("pending")) or 0,
    )
