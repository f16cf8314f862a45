"""MSTest TRX (Visual Studio test results), from MSTest, NUnit, xUnit.net and xUnit v3 adapters.

A ``UnitTestResult`` names its test by ``testId``; the class and assembly are
in the ``UnitTest`` definitions, which may come before or after the results.
So the file is read twice: first only the definitions (testId → class and
storage, a few dozen bytes per test; repeated class and storage names are
shared), then the results, one at a time.

``module`` is the storage (assembly) file name, ``classname`` the test
method's ``className`` without its assembly qualification, and the name is
``testName`` without a leading ``className.``. Outcomes: Passed, Completed,
Warning, PassedButRunAborted → passed; Failed, Timeout → failed; Error,
Disconnected → error; NotExecuted, NotRunnable, Inconclusive, Aborted, Pending
→ skipped. Data-driven results (``InnerResults``) count as their inner results.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from evidencehub.results.parsers import safexml, values
from evidencehub.results.parsers.base import DeclaredTotals, ParsedCase
from evidencehub.results.parsers.context import ParseContext
from evidencehub.results.parsers.safexml import Root
from evidencehub.results.status import Status

ROOTS = ("TestRun",)
FORMAT = "trx"

_OUTCOMES = {
    "passed": Status.PASSED,
    "completed": Status.PASSED,
    "warning": Status.PASSED,
    "passedbutrunaborted": Status.PASSED,
    "failed": Status.FAILED,
    "timeout": Status.FAILED,
    "error": Status.ERROR,
    "disconnected": Status.ERROR,
    "notexecuted": Status.SKIPPED,
    "notrunnable": Status.SKIPPED,
    "inconclusive": Status.SKIPPED,
    "aborted": Status.SKIPPED,
    "pending": Status.SKIPPED,
    "inprogress": Status.SKIPPED,
}


@dataclass(frozen=True, slots=True)
class _Definition:
    classname: str | None
    module: str | None


def parse(ctx: ParseContext, root: Root) -> Iterator[ParsedCase]:
    """Yield every unit-test result of a TRX file."""
    ctx.parsed.format = FORMAT
    prefix = f"{{{root.namespace}}}" if root.namespace else ""
    definitions = _read_definitions(ctx, prefix)
    result_tag = prefix + "UnitTestResult"
    # Definitions and test entries are one element per test too: they are read past, and dropped.
    passed_over = (prefix + "UnitTest", prefix + "TestEntry")
    stream = ctx.open()
    with stream, safexml.syntax_errors(ctx.name, ctx.limits):
        events = safexml.iterparse(stream, limits=ctx.limits, tag=(result_tag, *passed_over))
        for _event, elem in events:
            depth = 1 + sum(1 for _ in elem.iterancestors())
            if depth > ctx.limits.max_depth:
                raise ctx.error(f"elements are nested deeper than the limit of {ctx.limits.max_depth} levels")
            if elem.tag != result_tag:
                safexml.discard_children(elem, depth, ctx.limits, ctx.name)
                safexml.discard_before(elem, depth, ctx.limits, ctx.name)
                continue
            inner = safexml.child(elem, "InnerResults")
            # A data-driven result's own outcome only sums up its inner results, which were yielded already.
            case = None if inner is not None and len(inner) else _case(ctx, elem, definitions)
            safexml.discard_children(elem, depth, ctx.limits, ctx.name)
            safexml.discard_before(elem, depth, ctx.limits, ctx.name)
            if case is not None:
                yield case
        if events.root is not None:
            safexml.discard_children(events.root, 1, ctx.limits, ctx.name)


def _read_definitions(ctx: ParseContext, prefix: str) -> dict[str, _Definition]:
    """testId → class and assembly, plus the run's times and declared counters (first pass)."""
    unit_test, times, counters = prefix + "UnitTest", prefix + "Times", prefix + "Counters"
    # Results and test entries are one element per test too: they are read past, and dropped.
    passed_over = (prefix + "UnitTestResult", prefix + "TestEntry")
    definitions: dict[str, _Definition] = {}
    shared: dict[tuple[str | None, str | None], _Definition] = {}
    with ctx.open(report_progress=False) as stream, safexml.syntax_errors(ctx.name, ctx.limits):
        tags = (unit_test, times, counters, *passed_over)
        for _event, elem in safexml.iterparse(stream, limits=ctx.limits, tag=tags):
            if elem.tag == unit_test:
                test_id = elem.get("id")
                if test_id:
                    method = safexml.child(elem, "TestMethod")
                    classname = _class_name(method.get("className")) if method is not None else None
                    storage = elem.get("storage") or (method.get("codeBase") if method is not None else None)
                    key = (classname, values.base_name(storage))
                    definition = shared.get(key)
                    if definition is None:
                        definition = shared[key] = _Definition(*key)
                    definitions[sys.intern(test_id)] = definition
            elif elem.tag == times:
                ctx.parsed.saw_time_span(
                    values.timestamp(elem.get("start")), values.timestamp(elem.get("finish"))
                )
            elif elem.tag == counters:
                ctx.parsed.declared = _declared(elem)
            depth = 1 + sum(1 for _ in elem.iterancestors())
            safexml.discard_children(elem, depth, ctx.limits, ctx.name)
            safexml.discard_before(elem, depth, ctx.limits, ctx.name)
    return definitions


def _class_name(qualified: str | None) -> str | None:
    """``Ns.Class, Assembly, Version=…`` → ``Ns.Class``."""
    if not qualified:
        return None
    return qualified.split(",", 1)[0].strip() or None


def _case(ctx: ParseContext, elem: etree._Element, definitions: dict[str, _Definition]) -> ParsedCase | None:
    test_name = elem.get("testName")
    if not test_name:
        ctx.warn("UnitTestResult elements without testName were left out")
        return None
    line = elem.sourceline
    ctx.field(test_name, "testName", line)
    definition = definitions.get(elem.get("testId") or "")
    if definition is None:
        ctx.warn("some results have no matching UnitTest definition; their class is unknown")
        definition = _Definition(None, None)
    case = ParsedCase(
        values.strip_prefix(test_name, definition.classname),
        definition.classname,
        definition.module,
        duration_ms=values.timespan_ms(elem.get("duration")),
        started_at=values.timestamp(elem.get("startTime")),
    )
    outcome = elem.get("outcome") or ""
    status = _OUTCOMES.get(outcome.lower())
    if status is None:
        ctx.warn(f"outcome {outcome[:40]!r} is not known; such results count as errors")
        status = Status.ERROR
    output = safexml.child(elem, "Output")
    error_info = safexml.child(output, "ErrorInfo") if output is not None else None
    if status is not Status.PASSED:
        case.add_result(
            status,
            message=ctx.field(safexml.child_text(error_info, "Message"), "ErrorInfo Message", line),
            trace=ctx.field(safexml.child_text(error_info, "StackTrace"), "ErrorInfo StackTrace", line),
        )
    if output is not None:
        case.stdout = ctx.output(safexml.child_text(output, "StdOut"))
        case.stderr = ctx.output(safexml.child_text(output, "StdErr"))
    return case


def _declared(counters: etree._Element) -> DeclaredTotals | None:
    total = values.as_int(counters.get("total"))
    if total is None:
        return None

    def count(*names: str) -> int:
        return sum(values.as_int(counters.get(name)) or 0 for name in names)

    return DeclaredTotals(
        tests=total,
        failures=count("failed", "timeout"),
        errors=count("error", "disconnected"),
        skipped=count("notExecuted", "notRunnable", "inconclusive", "aborted", "pending"),
    )
