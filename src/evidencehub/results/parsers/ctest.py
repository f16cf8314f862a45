"""CTest dashboard XML (``<Site>``, from ``ctest -T Test``; not ``ctest --output-junit``).

Each ``<Testing>/<Test Status=…>`` is a test: ``classname`` is its ``<Path>``,
the name its ``<Name>``. Status passed → passed, failed → failed, notrun →
skipped (CTest writes notrun for disabled tests and for tests it could not
start). The duration is the "Execution Time" measurement, the output the
``<Measurement>`` value; a failed test's "Completion Status"/"Exit Value"
become its message.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from evidencehub.results.parsers import safexml, values
from evidencehub.results.parsers.base import ParsedCase
from evidencehub.results.parsers.context import ParseContext
from evidencehub.results.parsers.safexml import Root, local_name
from evidencehub.results.status import Status

ROOTS = ("Site",)
FORMAT = "ctest"

_STATUSES = {"passed": Status.PASSED, "failed": Status.FAILED, "notrun": Status.SKIPPED}


def parse(ctx: ParseContext, root: Root) -> Iterator[ParsedCase]:
    """Yield every ``<Test>`` with a status in a CTest ``<Site>`` document."""
    ctx.parsed.format = FORMAT
    ctx.parsed.hostname = root.attributes.get("Hostname") or None
    prefix = f"{{{root.namespace}}}" if root.namespace else ""
    test_tag = prefix + "Test"
    start_tag, end_tag = prefix + "StartTestTime", prefix + "EndTestTime"
    started = None
    stream = ctx.open()
    with stream, safexml.syntax_errors(ctx.name, ctx.limits):
        events = safexml.iterparse(stream, limits=ctx.limits, tag=(test_tag, start_tag, end_tag))
        for _event, elem in events:
            depth = 1 + sum(1 for _ in elem.iterancestors())
            if depth > ctx.limits.max_depth:
                raise ctx.error(f"elements are nested deeper than the limit of {ctx.limits.max_depth} levels")
            if elem.tag == start_tag:
                started = values.epoch(elem.text)
                ctx.parsed.saw_time_span(started, None)
                continue
            if elem.tag == end_tag:
                ctx.parsed.saw_time_span(None, values.epoch(elem.text))
                continue
            # <TestList> repeats <Test> as plain names without a status: those are not results.
            case = _case(ctx, elem) if elem.get("Status") is not None else None
            safexml.discard_children(elem, depth, ctx.limits, ctx.name)
            safexml.discard_before(elem, depth, ctx.limits, ctx.name)
            if case is not None:
                yield case
        if events.root is not None:
            safexml.discard_children(events.root, 1, ctx.limits, ctx.name)


def _case(ctx: ParseContext, elem: etree._Element) -> ParsedCase | None:
    name = safexml.child_text(elem, "Name")
    if not name:
        ctx.warn("tests without a <Name> were left out")
        return None
    line = elem.sourceline
    ctx.field(name, "Name", line)
    status_text = elem.get("Status") or ""
    status = _STATUSES.get(status_text.lower())
    if status is None:
        ctx.warn(f"test status {status_text[:40]!r} is not known; such tests count as errors")
        status = Status.ERROR
    measurements = _named_measurements(elem)
    case = ParsedCase(
        name.strip(),
        ctx.field(safexml.child_text(elem, "Path"), "Path", line),
        duration_ms=values.duration_ms(measurements.get("Execution Time")),
    )
    results = safexml.child(elem, "Results")
    output = (
        safexml.child_text(safexml.child(results, "Measurement"), "Value") if results is not None else None
    )
    if status is not Status.PASSED:
        keys = ("Completion Status", "Exit Code", "Exit Value")
        message = "; ".join(f"{key}: {measurements[key]}" for key in keys if measurements.get(key)) or None
        trace = output if status is Status.FAILED else None
        case.add_result(status, message=message, trace=ctx.field(trace, "Measurement", line))
        if status is Status.FAILED:
            output = None
    case.stdout = ctx.output(output)
    return case


def _named_measurements(elem: etree._Element) -> dict[str, str | None]:
    """``<NamedMeasurement name=…><Value>…`` pairs of one test (None when absent)."""
    found: dict[str, str | None] = {"Completion Status": None, "Exit Code": None, "Exit Value": None}
    results = safexml.child(elem, "Results")
    if results is None:
        return found
    for measurement in results:
        if local_name(measurement) == "NamedMeasurement" and measurement.get("name"):
            value = safexml.child_text(measurement, "Value")
            found[measurement.get("name") or ""] = value.strip() if value else None
    return found
