"""rspec's ``--format json`` report: ``{"examples": […], "summary": {…}}``.

Status passed → passed, pending → skipped, failed → failed; a failure whose
exception is not an expectation (``…ExpectationNotMetError``,
``…MockExpectationError``) but, say, a ``NoMethodError`` counts as an error.
The class is the spec file, the name the full description.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evidencehub.results.parsers.base import DeclaredTotals, ParsedCase
from evidencehub.results.parsers.context import ParseContext
from evidencehub.results.parsers.jsonfields import integer, mapping, number, objects, text
from evidencehub.results.parsers.occurrences import Occurrences
from evidencehub.results.status import Status

FORMAT = "rspec-json"


def parse(ctx: ParseContext, document: dict[str, Any]) -> Iterator[ParsedCase]:
    """Yield every example of an rspec JSON report."""
    ctx.parsed.format = FORMAT
    ctx.parsed.declared = _declared(mapping(document.get("summary")))
    return _cases(ctx, objects(document.get("examples")))


def _cases(ctx: ParseContext, examples: list[dict[str, Any]]) -> Iterator[ParsedCase]:
    names = Occurrences()
    for example in examples:
        title = (
            text(example.get("full_description"))
            or text(example.get("description"))
            or text(example.get("id"))
        )
        if not title:
            ctx.warn("examples without a description were left out")
            continue
        ctx.field(title, "full_description", None)
        path = text(example.get("file_path"))
        line = integer(example.get("line_number"))
        seconds = number(example.get("run_time"))
        case = ParsedCase(
            names.name(path, title),
            path,
            file=path,
            line=line,
            duration_ms=seconds * 1000.0 if seconds is not None else None,
        )
        status = text(example.get("status"))
        if status == "failed":
            exception = mapping(example.get("exception"))
            kind = text(exception.get("class"))
            expected = kind is None or "Expectation" in kind or "Assertion" in kind
            backtrace = exception.get("backtrace")
            trace = (
                "\n".join(item for item in backtrace if isinstance(item, str))
                if isinstance(backtrace, list)
                else None
            )
            case.add_result(
                Status.FAILED if expected else Status.ERROR,
                failure_type=ctx.field(kind, "exception.class", line),
                message=ctx.field(text(exception.get("message")), "exception.message", line),
                trace=ctx.field(trace or None, "exception.backtrace", line),
            )
        elif status == "pending":
            case.add_result(
                Status.SKIPPED,
                message=ctx.field(text(example.get("pending_message")), "pending_message", line),
            )
        yield case


def _declared(summary: dict[str, Any]) -> DeclaredTotals | None:
    examples = integer(summary.get("example_count"))
    if examples is None:
        return None
    return DeclaredTotals(
        tests=examples,
        failures=integer(summary.get("failure_count")) or 0,
        errors=integer(summary.get("errors_outside_of_examples_count")) or 0,
        skipped=integer(summary.get("pending_count")) or 0,
    )
