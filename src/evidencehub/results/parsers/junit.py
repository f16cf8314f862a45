"""JUnit XML, in the dialects real tools write.

Covers Maven Surefire (``rerunFailure``/``rerunError`` → rerun attempts,
``flakyFailure``/``flakyError`` → a passed, flaky test), pytest xunit1/xunit2
(``file``/``line``, case-level ``<properties>``), jest-junit, mocha, Go's
go-junit-report and gotestsum, PHPUnit and Codeception (nested suites,
``class=``), googletest (``status="notrun"``, ``result="skipped"``), Bazel,
ScalaTest, Catch2, nextest, tst (``status="disabled"``), Marathon and CTest's
JUnit output.

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

Speed: the parser stops only at the end of each ``testcase``, reads its
attributes and builds the case; everything else is done once per suite. A
suite is looked at when its testcases start (name, file, depth) and when it is
over, which shows when a later testcase sits outside it or the document ends
("retiring": its time span and totals are noted, its subtree is checked
against the depth limit, and it is removed from the tree).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from lxml import etree

from evidencehub.results.parsers import safexml, values
from evidencehub.results.parsers.base import Attempt, DeclaredTotals, ParsedCase, ResultFileError
from evidencehub.results.parsers.context import ParseContext
from evidencehub.results.parsers.safexml import Root, line_of, local_name
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


# The per-testcase work is kept in this one loop on purpose: a call per case costs measurably.
def parse(ctx: ParseContext, root: Root) -> Iterator[ParsedCase]:  # noqa: PLR0912, PLR0915
    """Yield every testcase of a JUnit document, in document order."""
    ctx.parsed.format = FORMAT
    prefix = f"{{{root.namespace}}}" if root.namespace else ""
    case_tag = prefix + "testcase"
    suites = _Suites(ctx, prefix + "testsuite", case_tag)
    limits = ctx.limits
    max_field = limits.max_field_chars
    max_output = limits.max_output_chars
    stdout_tag = prefix + "system-out"
    source = ctx.name

    # Facts about the element holding the current testcases, worked out once per holder.
    holder: etree._Element | None = None
    suite_name: str | None = None
    suite_file: str | None = None
    case_depth = 0
    leaf_children_fit = True  # a leaf child of this holder's testcases is within the depth limit
    batch = _BATCH
    handled = 0

    stream = ctx.open()
    with stream, safexml.syntax_errors(source):
        events = safexml.iterparse(stream, limits=limits, tag=case_tag)
        for _event, elem in events:
            parent = elem.getparent()
            if parent is not holder:
                holder = parent
                suite_name, suite_file, case_depth, removable = _holder_facts(ctx, parent)
                leaf_children_fit = case_depth + 1 <= limits.max_depth
                if removable:
                    suites.retire_before(elem, case_depth)
                # A testcase inside a testcase (or a lone root testcase) leaves its holder alone.
                batch = _BATCH if removable else sys.maxsize
                handled = 0

            name = elem.get("name")
            classname = elem.get("classname")
            time = elem.get("time")
            # Most generators write just these three attributes: only look for others when there are more.
            extras = len(elem.attrib) != 3 or name is None or classname is None or time is None
            if classname is None and extras:
                classname = elem.get("class")  # Codeception writes class= instead
            if not name:
                if not classname:
                    ctx.warn("testcases without name and classname were left out")
                    continue
                name = classname
            if len(name) > max_field:
                raise ctx.too_long("testcase name", line_of(elem), len(name))
            if not classname:
                classname = suite_name
            elif len(classname) > max_field:
                raise ctx.too_long("testcase classname", line_of(elem), len(classname))

            duration = None
            if time is not None:
                try:
                    seconds = float(time)
                except ValueError:
                    seconds = -1.0
                # The common case inline; comma decimals, nanoseconds and junk go the long way.
                duration = seconds * 1000.0 if 0.0 <= seconds < 1e6 else _odd_duration(ctx, time)

            case = ParsedCase(name, classname, None, suite_name, suite_file, None, _PASSED, duration)
            status = _read_extra_attributes(ctx, elem, case) if extras else None
            children = len(elem)
            if children:
                # Most testcases hold one leaf <system-out>: read it here, the rest in _read_children.
                only = elem[0] if children == 1 and leaf_children_fit else None
                if only is not None and only.tag == stdout_tag and not len(only):
                    value = only.text
                    if value and len(value) <= max_output and not value.isspace():
                        case.stdout = value
                    else:
                        case.stdout = ctx.output(value)
                else:
                    _read_children(ctx, elem, case, case_depth)
                elem.clear()  # checked and read: nothing in it is needed any more
            if status is not None:
                _apply_status_attribute(case, *status)  # after the children: it can overrule them

            handled += 1
            if handled >= batch:
                assert parent is not None
                # libxml2 reads ahead, so later siblings may exist already: only those before go.
                position = parent.index(elem)
                if position >= handled:
                    # Something other than handled testcases sits in between: retire it properly.
                    suites.retire_before(elem, case_depth, only_siblings=True)
                else:
                    del parent[:position]
                handled = 1
            yield case

        suites.retire_document(events.root)
    ctx.parsed.declared = suites.declared.totals


def _holder_facts(
    ctx: ParseContext, holder: etree._Element | None
) -> tuple[str | None, str | None, int, bool]:
    """Suite name, suite file, depth of its testcases, and whether handled testcases may leave it."""
    if holder is None:
        return None, None, 1, False
    depth = 2 + sum(1 for _ in holder.iterancestors())
    if depth > ctx.limits.max_depth:
        raise _too_deep(ctx, holder)
    name = holder.get("name") or None
    if name is not None and len(name) > ctx.limits.max_field_chars:
        raise ctx.too_long("testsuite name", line_of(holder), len(name))
    return name, holder.get("file") or None, depth, local_name(holder) != "testcase"


def _too_deep(ctx: ParseContext, element: etree._Element) -> ResultFileError:
    return ctx.error(
        f"elements are nested deeper than the limit of {ctx.limits.max_depth} levels "
        "(raise ingest.max_depth to accept it)",
        line=line_of(element),
    )


def _odd_duration(ctx: ParseContext, text: str) -> float | None:
    duration = values.duration_ms(text)
    if duration is None:
        ctx.warn(f"time {text[:40]!r} is not a number of seconds; the duration was left empty")
    return duration


def _read_extra_attributes(
    ctx: ParseContext, elem: etree._Element, case: ParsedCase
) -> tuple[str, str | None] | None:
    """Read ``file``/``line`` (pytest, PHPUnit), ``timestamp`` (nextest); return ``status``, ``result``."""
    file = elem.get("file")
    if file:
        case.file = ctx.field(file, "testcase file", line_of(elem))
    line = elem.get("line")
    if line is not None:
        try:
            case.line = int(line)
        except ValueError:
            case.line = None
    started = elem.get("timestamp")
    if started is not None:
        case.started_at = values.timestamp(started)
    status = elem.get("status")
    return None if status is None else (status, elem.get("result"))


# Runs for every testcase with more than a lone leaf <system-out> (parse reads that one itself);
# the common children (a leaf <system-out>, <failure>) are handled inline.
def _read_children(ctx: ParseContext, elem: etree._Element, case: ParsedCase, depth: int) -> None:  # noqa: PLR0912
    """Results, outputs, properties and reruns inside one testcase."""
    limits = ctx.limits
    max_field = limits.max_field_chars
    max_output = limits.max_output_chars
    children_too_deep = depth + 1 > limits.max_depth
    retries: list[Attempt] = []
    for child in elem:
        raw_tag: object = child.tag
        if not isinstance(raw_tag, str):
            continue  # an entity reference: left as it is, never expanded
        tag = raw_tag.rpartition("}")[2] if raw_tag[0] == "{" else raw_tag
        # Most children are a leaf <system-out> or <failure>: their text is .text, no walk needed.
        nested = len(child)
        if nested or children_too_deep:
            safexml.check_depth(child, depth + 1, limits, ctx.name)
        value = safexml.text(child) if nested else child.text
        if tag == "system-out":
            if case.stdout is not None:
                case.stdout = _join_output(ctx, case.stdout, value)
            elif value and len(value) <= max_output and not value.isspace():
                case.stdout = value  # what ctx.output would return, without the call
            else:
                case.stdout = ctx.output(value)
            continue
        status = _RESULT_TAGS.get(tag)
        if status is not None:
            failure_type = child.get("type")
            message = child.get("message")
            for field, what in ((failure_type, "type"), (message, "message"), (value, "text")):
                if field is not None and len(field) > max_field:
                    raise ctx.too_long(f"{tag} {what}", line_of(child), len(field))
            case.add_result(status, failure_type=failure_type, message=message, trace=value)
        elif tag == "system-err":
            case.stderr = _join_output(ctx, case.stderr, value)
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
        ctx.field(value, f"property {name[:80]!r}", line_of(prop))
        properties[name] = f"{properties[name]}, {value}" if name in properties else value
    return properties or None


def _retry(ctx: ParseContext, element: etree._Element, tag: str) -> Attempt:
    """A Surefire ``flaky*``/``rerun*`` element: its trace is in ``<stackTrace>`` (or its own text)."""
    status, kind = _RETRY_TAGS[tag]
    line = line_of(element)
    trace = safexml.child_text(element, "stackTrace")
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
    """Running sum of the totals the top-level suites declare (None until one declares any)."""

    __slots__ = ("totals",)

    def __init__(self) -> None:
        self.totals: DeclaredTotals | None = None

    def add(self, element: etree._Element) -> None:
        """Add one suite's declared totals (if it declares any)."""
        tests = values.as_int(element.get("tests"))
        failures = values.as_int(element.get("failures"))
        errors = values.as_int(element.get("errors"))
        skips = [values.as_int(element.get(name)) for name in _DECLARED_SKIPS]
        if tests is None and failures is None and errors is None and all(skip is None for skip in skips):
            return
        if self.totals is None:
            self.totals = DeclaredTotals()
        self.totals.tests += tests or 0
        self.totals.failures += failures or 0
        self.totals.errors += errors or 0
        self.totals.skipped += sum(skip or 0 for skip in skips)


class _Suites:
    """Notes the facts of suites that are over and removes them (and whatever else is done) from the tree."""

    def __init__(self, ctx: ParseContext, suite_tag: str, case_tag: str) -> None:
        self._ctx = ctx
        self._suite_tag = suite_tag
        self._case_tag = case_tag
        self.declared = _Declared()

    def retire_before(self, elem: etree._Element, depth: int, *, only_siblings: bool = False) -> None:
        """Retire everything before ``elem`` (at ``depth``) and, unless told otherwise, before its ancestors.

        All of it is complete: it precedes an element whose start has been read.
        """
        node: etree._Element | None = elem
        while node is not None:
            parent = node.getparent()
            if parent is None:
                return
            first = parent[0]
            while first is not node:
                self._retire(first, depth)
                del parent[0]
                first = parent[0]
            if only_siblings:
                return
            node, depth = parent, depth - 1

    def retire_document(self, root: etree._Element | None) -> None:
        """At the end: retire what is left, the root last (its totals count when no suite declared any)."""
        if root is None:
            return
        if root.tag == self._suite_tag:
            self._retire(root, 1)
            root.clear()
            return
        for child in root:
            self._retire(child, 2)
        _note_time_span(self._ctx, root)
        if self.declared.totals is None:
            self.declared.add(root)
        root.clear()

    def _retire(self, element: etree._Element, depth: int) -> None:
        tag = element.tag
        if tag == self._case_tag:
            if len(element):  # a testcase left out (no name): its content still has to pass the depth check
                safexml.check_depth(element, depth, self._ctx.limits, self._ctx.name)
            return
        if depth > self._ctx.limits.max_depth or len(element):
            safexml.check_depth(element, depth, self._ctx.limits, self._ctx.name)
        if tag != self._suite_tag:
            return
        parent = element.getparent()
        if parent is None or (parent.getparent() is None and parent.tag != self._suite_tag):
            self.declared.add(element)
        for suite in element.iter(self._suite_tag):
            _note_time_span(self._ctx, suite)


def _note_time_span(ctx: ParseContext, element: etree._Element) -> None:
    parsed = ctx.parsed
    if parsed.hostname is None:
        parsed.hostname = element.get("hostname") or None
    started = values.timestamp(element.get("timestamp"))
    if started is not None:
        parsed.saw_time_span(started, values.plus_ms(started, values.duration_ms(element.get("time"))))
