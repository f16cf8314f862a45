"""JUnit XML, in the dialects real tools write.

Covers Maven Surefire (``rerunFailure``/``rerunError`` → rerun attempts,
``flakyFailure``/``flakyError`` → a passed, flaky test), pytest xunit1/xunit2
(``file``/``line``, case-level ``<properties>``), jest-junit, mocha, Go's
go-junit-report and gotestsum, PHPUnit (nested suites), googletest
(``status="notrun"``, ``result="skipped"``), Bazel, ScalaTest, Catch2, nextest,
tst (``status="disabled"``), Marathon and CTest's JUnit output.

Rules:

* nested ``<testsuite>`` elements are flattened; a case's ``suite`` is its
  innermost suite, and a case without ``classname`` takes that suite's name as
  its class (as Jenkins does), so equal names in different suites stay apart;
* a testcase with neither ``name`` nor ``classname`` is dropped;
* several result elements in one testcase count once, as the most severe;
* ``time`` is seconds (comma decimals accepted); a whole number of a million or
  more is taken as nanoseconds (container-structure-test writes those);
* ``declared`` sums the top-level suites' ``tests``/``failures``/``errors``/
  ``skipped`` (+ ``disabled``); when none declares, the root's are used.

The loop works on end events of ``testcase`` and ``testsuite`` only and keeps
per-case work to attribute reads: suite facts are worked out once per suite.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from lxml import etree

from evidencehub.results.parsers import safexml, values
from evidencehub.results.parsers.base import Attempt, DeclaredTotals, ParsedCase, ResultFileError
from evidencehub.results.parsers.context import ParseContext
from evidencehub.results.parsers.safexml import Root, local_name
from evidencehub.results.status import Status

FORMAT = "junit"
ROOTS = ("testsuites", "testsuite")

_PASSED = Status.PASSED
# Handled testcases are removed from the tree this many at a time (fewer calls than one by one).
_BATCH = 64
_RESULT_TAGS = {"failure": Status.FAILED, "error": Status.ERROR, "skipped": Status.SKIPPED}
_RETRY_TAGS = {
    "flakyFailure": (Status.FAILED, "flaky"),
    "flakyError": (Status.ERROR, "flaky"),
    "rerunFailure": (Status.FAILED, "rerun"),
    "rerunError": (Status.ERROR, "rerun"),
}
# status= values (tst, googletest, Bazel, …) that mean the test did not run.
_NOT_RUN_STATUSES = frozenset({"disabled", "notrun", "skipped", "skip", "ignored", "pending"})
_NOT_RUN_RESULTS = frozenset({"skipped", "suppressed"})
_FAILED_STATUSES = {
    "failed": Status.FAILED,
    "failure": Status.FAILED,
    "error": Status.ERROR,
    "errored": Status.ERROR,
}
_DECLARED_SKIPS = ("skipped", "skips", "skip", "disabled")


def parse(ctx: ParseContext, root: Root) -> Iterator[ParsedCase]:
    """Yield every testcase of a JUnit document, in document order."""
    ctx.parsed.format = FORMAT
    prefix = f"{{{root.namespace}}}" if root.namespace else ""
    case_tag = prefix + "testcase"
    suite_tag = prefix + "testsuite"
    limits = ctx.limits
    max_field = limits.max_field_chars
    source = ctx.name
    declared = _Declared()

    # Facts about the element holding the current testcases, worked out once per holder.
    holder: etree._Element | None = None
    suite_name: str | None = None
    suite_file: str | None = None
    case_depth = 0
    # Handled testcases are removed from the tree in batches: the one just ended is always its
    # holder's last child, so everything before it can go at once (fewer calls than one by one).
    batch = _BATCH
    handled = 0

    stream = ctx.open()
    with stream, safexml.syntax_errors(source, limits):
        events = safexml.iterparse(stream, limits=limits, tag=(case_tag, suite_tag))
        for _event, elem in events:
            if elem.tag != case_tag:
                _finish_suite(ctx, elem, suite_tag, declared)
                continue
            parent = elem.getparent()
            if parent is not holder:
                holder = parent
                suite_name, suite_file, case_depth, removable = _holder_facts(ctx, parent)
                # A testcase inside a testcase (or a lone root testcase) leaves its holder alone.
                batch = _BATCH if removable else sys.maxsize
                handled = 0  # whatever the holder already holds is checked by the first batch

            name = elem.get("name")
            classname = elem.get("classname")
            time = elem.get("time")
            # Most generators write just these three attributes: only look for others when there are more.
            count = len(elem.attrib)
            extras = count > 3 or count > (name is not None) + (classname is not None) + (time is not None)
            if classname is None and extras:
                classname = elem.get("class")  # Codeception writes class= instead
            if not name:
                if not classname:
                    ctx.warn("testcases without name and classname were left out")
                    continue
                name = classname
            if len(name) > max_field:
                raise ctx.too_long("testcase name", elem.sourceline, len(name))
            if not classname:
                classname = suite_name
            elif len(classname) > max_field:
                raise ctx.too_long("testcase classname", elem.sourceline, len(classname))

            duration = None
            if time is not None:
                try:
                    seconds = float(time)
                except ValueError:
                    duration = _odd_duration(ctx, time)
                else:
                    # The common case inline; negative, huge (nanoseconds) or NaN values go the long way.
                    if 0.0 <= seconds < 1e6:
                        duration = seconds * 1000.0
                    else:
                        duration = _odd_duration(ctx, time)

            case = ParsedCase(name, classname, None, suite_name, suite_file, None, _PASSED, duration)
            status = _read_extra_attributes(elem, case) if extras else None
            if len(elem):
                _read_children(ctx, elem, case, case_depth)
                elem.clear(keep_tail=False)  # checked and read: nothing in it is needed any more
            if status is not None:
                _apply_status_attribute(case, status, elem.get("result"))

            handled += 1
            if handled >= batch:
                assert parent is not None
                if len(parent) > handled:
                    # Something other than handled testcases sits in between: check it before it goes.
                    for sibling in parent:
                        if len(sibling):
                            safexml.check_depth(sibling, case_depth, limits, source)
                del parent[:-1]
                handled = 1
            yield case

        _finish_root(ctx, events.root, suite_tag, declared)
    ctx.parsed.declared = declared.totals


def _holder_facts(
    ctx: ParseContext, holder: etree._Element | None
) -> tuple[str | None, str | None, int, bool]:
    """Suite name, suite file, the depth of its testcases, and whether handled testcases may be removed from it."""
    if holder is None:
        return None, None, 1, False
    depth = 2 + sum(1 for _ in holder.iterancestors())
    if depth > ctx.limits.max_depth:
        raise _too_deep(ctx, holder)
    name = holder.get("name") or None
    if name is not None and len(name) > ctx.limits.max_field_chars:
        raise ctx.too_long("testsuite name", holder.sourceline, len(name))
    return name, holder.get("file") or None, depth, local_name(holder) != "testcase"


def _too_deep(ctx: ParseContext, element: etree._Element) -> ResultFileError:
    return ctx.error(
        f"elements are nested deeper than the limit of {ctx.limits.max_depth} levels "
        "(raise ingest.max_depth to accept it)",
        line=element.sourceline,
    )


def _odd_duration(ctx: ParseContext, text: str) -> float | None:
    duration = values.duration_ms(text)
    if duration is None:
        ctx.warn(f"time {text[:40]!r} is not a number of seconds; the duration was left empty")
    return duration


def _read_extra_attributes(elem: etree._Element, case: ParsedCase) -> str | None:
    """Read ``file``/``line`` (pytest, PHPUnit) and ``timestamp`` (nextest); return ``status`` (tst, googletest)."""
    file = elem.get("file")
    if file:
        case.file = file
    line = elem.get("line")
    if line is not None:
        try:
            case.line = int(line)
        except ValueError:
            case.line = None
    started = elem.get("timestamp")
    if started is not None:
        case.started_at = values.timestamp(started)
    return elem.get("status")


def _read_children(ctx: ParseContext, elem: etree._Element, case: ParsedCase, depth: int) -> None:
    """Results, outputs, properties and reruns inside one testcase."""
    limits = ctx.limits
    retries: list[Attempt] = []
    for child in elem:
        tag = local_name(child)
        if not tag:
            continue
        if len(child) or depth + 1 > limits.max_depth:
            safexml.check_depth(child, depth + 1, limits, ctx.name)
        status = _RESULT_TAGS.get(tag)
        if status is not None:
            line = child.sourceline
            case.add_result(
                status,
                failure_type=ctx.field(child.get("type"), f"{tag} type", line),
                message=ctx.field(child.get("message"), f"{tag} message", line),
                trace=ctx.field(safexml.text(child), f"{tag} text", line),
            )
        elif tag == "system-out":
            case.stdout = _join_output(ctx, case.stdout, safexml.text(child))
        elif tag == "system-err":
            case.stderr = _join_output(ctx, case.stderr, safexml.text(child))
        elif tag == "properties":
            case.properties = _properties(ctx, child, case.properties)
        elif tag in _RETRY_TAGS:
            retries.append(_retry(ctx, child, tag))
    if retries:
        _add_retries(case, retries)


def _join_output(ctx: ParseContext, earlier: str | None, more: str | None) -> str | None:
    if earlier is None:
        return ctx.output(more)
    if more is None:
        return earlier
    return ctx.output(earlier + "\n" + more)


def _properties(
    ctx: ParseContext, element: etree._Element, known: dict[str, str] | None
) -> dict[str, str] | None:
    """Case-level ``<property name= value=>`` (or text) pairs; a repeated name keeps every value."""
    properties = dict(known) if known else {}
    for prop in element:
        if local_name(prop) != "property":
            continue
        name = prop.get("name")
        if not name:
            continue
        value = prop.get("value")
        if value is None:
            value = safexml.text(prop) or ""
        ctx.field(value, f"property {name[:80]!r}", prop.sourceline)
        properties[name] = f"{properties[name]}, {value}" if name in properties else value
    return properties or None


def _retry(ctx: ParseContext, element: etree._Element, tag: str) -> Attempt:
    """A Surefire ``flaky*``/``rerun*`` element: its trace is in ``<stackTrace>`` (or its own text)."""
    status, kind = _RETRY_TAGS[tag]
    line = element.sourceline
    trace = None
    for child in element:
        if local_name(child) == "stackTrace":
            trace = safexml.text(child)
    if trace is None:
        trace = safexml.text(element)
        trace = trace if trace and not trace.isspace() else None
    return Attempt(
        status,
        kind,
        failure_type=ctx.field(element.get("type"), f"{tag} type", line),
        message=ctx.field(element.get("message"), f"{tag} message", line),
        trace=ctx.field(trace, f"{tag} stackTrace", line),
        duration_ms=values.duration_ms(element.get("time")),
    )


def _add_retries(case: ParsedCase, retries: list[Attempt]) -> None:
    """Flaky attempts mean the test passed in the end; rerun attempts sit beside the failure that counts."""
    case.attempts = [*(case.attempts or []), *retries]
    if case.status is Status.PASSED and any(attempt.kind == "flaky" for attempt in retries):
        case.flaky = True


def _apply_status_attribute(case: ParsedCase, status: str, result: str | None) -> None:
    lowered = status.lower()
    if lowered in _NOT_RUN_STATUSES or (result is not None and result.lower() in _NOT_RUN_RESULTS):
        if case.status is Status.SKIPPED:
            return
        if case.status is not Status.PASSED:
            # A disabled test that also carries a failure still did not run; keep the failure as an attempt.
            extra = Attempt(case.status, "extra", case.failure_type, case.message, case.trace)
            case.attempts = [*(case.attempts or []), extra]
            case.failure_type = case.message = case.trace = None
        case.status = Status.SKIPPED
        return
    failed = _FAILED_STATUSES.get(lowered)
    if failed is not None and case.status is Status.PASSED:
        case.status = failed


class _Declared:
    """Running sum of the totals the top-level suites declare."""

    __slots__ = ("seen", "totals")

    def __init__(self) -> None:
        self.totals: DeclaredTotals | None = None
        self.seen = False

    def add(self, element: etree._Element) -> bool:
        """Add one suite's declared totals; False when it declares none."""
        tests = values.as_int(element.get("tests"))
        failures = values.as_int(element.get("failures"))
        errors = values.as_int(element.get("errors"))
        skips = [values.as_int(element.get(name)) for name in _DECLARED_SKIPS]
        if tests is None and failures is None and errors is None and all(skip is None for skip in skips):
            return False
        if self.totals is None:
            self.totals = DeclaredTotals()
        self.totals.tests += tests or 0
        self.totals.failures += failures or 0
        self.totals.errors += errors or 0
        self.totals.skipped += sum(skip or 0 for skip in skips)
        self.seen = True
        return True


def _finish_suite(ctx: ParseContext, suite: etree._Element, suite_tag: str, declared: _Declared) -> None:
    """At a suite's end: note its time span, hostname and (if top-level) totals, then let it go."""
    parent = suite.getparent()
    depth = 1 + sum(1 for _ in suite.iterancestors())
    if depth > ctx.limits.max_depth:
        raise _too_deep(ctx, suite)
    _note_time_span(ctx, suite)
    if parent is None or (parent.getparent() is None and parent.tag != suite_tag):
        declared.add(suite)
    safexml.discard_children(suite, depth, ctx.limits, ctx.name)
    if parent is not None and local_name(parent) != "testcase":
        safexml.discard_before(suite, depth, ctx.limits, ctx.name)


def _note_time_span(ctx: ParseContext, element: etree._Element) -> None:
    parsed = ctx.parsed
    if parsed.hostname is None:
        parsed.hostname = element.get("hostname") or None
    started = values.timestamp(element.get("timestamp"))
    if started is not None:
        parsed.saw_time_span(started, values.plus_ms(started, values.duration_ms(element.get("time"))))


def _finish_root(ctx: ParseContext, root: etree._Element | None, suite_tag: str, declared: _Declared) -> None:
    """The ``<testsuites>`` root: its time span, its totals when no suite declared any, and a last check."""
    if root is None or root.tag == suite_tag:
        return
    _note_time_span(ctx, root)
    if not declared.seen:
        declared.add(root)
    safexml.discard_children(root, 1, ctx.limits, ctx.name)
