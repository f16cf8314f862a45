"""NUnit 2 (``<test-results>``) and NUnit 3 (``<test-run>``, or a bare ``<test-suite>``) XML.

A ``<test-case>``'s full name is split into class and test name at its last
dot outside brackets, so parameterised fixtures (``Fixture(42).Test``) stay
apart. ``module`` is the assembly file name without its directory.

Results: Success/Passed/Warning → passed; Failure/Failed → failed (NUnit 3's
``label`` — Error, Invalid, Cancelled — is kept as the failure type, as the
reference converters count these as failures); Error → error;
Ignored/NotRunnable/Inconclusive/Skipped → skipped. NUnit 2.2 files without
``result`` use ``executed``/``success``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from evidencehub.results.parsers import safexml, values
from evidencehub.results.parsers.base import DeclaredTotals, ParsedCase
from evidencehub.results.parsers.context import ParseContext
from evidencehub.results.parsers.dotnet import split_full_name
from evidencehub.results.parsers.safexml import Root, local_name
from evidencehub.results.status import Status

ROOTS = ("test-run", "test-results", "test-suite")

_RESULTS = {
    "success": Status.PASSED,
    "passed": Status.PASSED,
    "warning": Status.PASSED,
    "failure": Status.FAILED,
    "failed": Status.FAILED,
    "error": Status.ERROR,
    "cancelled": Status.ERROR,
    "ignored": Status.SKIPPED,
    "notrunnable": Status.SKIPPED,
    "inconclusive": Status.SKIPPED,
    "skipped": Status.SKIPPED,
    "invalid": Status.SKIPPED,
    "explicit": Status.SKIPPED,
}
# ParameterizedFixture and GenericFixture only group the TestFixture instances below them.
_FIXTURE_TYPES = frozenset({"TestFixture", "Fixture", "SetUpFixture"})
_ASSEMBLY_TYPES = frozenset({"Assembly", "Assemblies"})
_METHOD_TYPES = frozenset({"ParameterizedTest", "ParameterizedMethod", "Theory"})


@dataclass(frozen=True, slots=True)
class _Holder:
    """What the suites around a run of test-cases tell about them."""

    module: str | None
    fixture: str | None  # the class: NUnit 3's fixture fullname, or NUnit 2's namespaces + fixture name
    namespace: str | None  # NUnit 2's dotted namespaces ("" when the fixture has none; None when unknown)
    suite: str | None
    case_depth: int
    method: str | None = None  # the parameterised method whose cases these are


def parse(ctx: ParseContext, root: Root) -> Iterator[ParsedCase]:
    """Yield every test-case of an NUnit 2 or 3 document."""
    nunit3 = root.name != "test-results"
    ctx.parsed.format = "nunit3" if nunit3 else "nunit2"
    ctx.parsed.declared = _declared(root, nunit3=nunit3)
    _note_run_times(ctx, root.attributes, nunit3=nunit3)
    prefix = f"{{{root.namespace}}}" if root.namespace else ""
    case_tag, suite_tag = prefix + "test-case", prefix + "test-suite"
    holder_element: etree._Element | None = None
    holder = _Holder(None, None, None, None, 1)

    stream = ctx.open()
    with stream, safexml.syntax_errors(ctx.name, ctx.limits):
        events = safexml.iterparse(stream, limits=ctx.limits, tag=(case_tag, suite_tag))
        for _event, elem in events:
            if elem.tag == suite_tag:
                _finish_suite(ctx, elem, nunit3=nunit3)
                continue
            parent = elem.getparent()
            if parent is not holder_element:
                holder_element = parent
                holder = _holder(ctx, parent, suite_tag)
            case = _case(ctx, elem, holder, nunit3=nunit3)
            safexml.discard_children(elem, holder.case_depth, ctx.limits, ctx.name)
            safexml.discard_before(elem, holder.case_depth, ctx.limits, ctx.name)
            if case is not None:
                yield case
        if events.root is not None:
            safexml.discard_children(events.root, 1, ctx.limits, ctx.name)


def _holder(ctx: ParseContext, holder: etree._Element | None, suite_tag: str) -> _Holder:
    if holder is None:
        return _Holder(None, None, None, None, 1)
    suites = [node for node in (holder, *holder.iterancestors()) if node.tag == suite_tag]  # innermost first
    depth = 2 + sum(1 for _ in holder.iterancestors())
    if depth > ctx.limits.max_depth:
        raise ctx.error(f"elements are nested deeper than the limit of {ctx.limits.max_depth} levels")
    assembly = next(
        (node for node in suites if node.get("type") in _ASSEMBLY_TYPES), suites[-1] if suites else None
    )
    module = values.base_name(assembly.get("name")) if assembly is not None else None
    suite = (suites[0].get("fullname") or suites[0].get("name")) if suites else None
    method = suites[0].get("name") if suites and suites[0].get("type") in _METHOD_TYPES else None
    fixture = next((node for node in suites if node.get("type") in _FIXTURE_TYPES), None)
    if fixture is None:
        return _Holder(module, None, None, suite, depth, method)
    if fixture.get("fullname"):
        return _Holder(module, fixture.get("fullname"), None, suite, depth, method)
    # NUnit 2 names fixtures briefly; their class is the enclosing namespaces plus the fixture name.
    namespaces = [node.get("name") or "" for node in reversed(suites) if node.get("type") == "Namespace"]
    namespace = ".".join(namespaces)
    fixture_name = fixture.get("name") or ""
    fixture_path = f"{namespace}.{fixture_name}" if namespace else fixture_name
    return _Holder(module, fixture_path, namespace, suite, depth, method)


def _case(ctx: ParseContext, elem: etree._Element, holder: _Holder, *, nunit3: bool) -> ParsedCase | None:
    full_name = (elem.get("fullname") if nunit3 else None) or elem.get("name")
    if not full_name:
        ctx.warn("test-cases without a name were left out")
        return None
    line = elem.sourceline
    ctx.field(full_name, "test-case name", line)
    classname, name = _names(full_name, holder, elem.get("classname") if nunit3 else None)
    if holder.method and not name.startswith(holder.method):
        # A case given its own name (TestCase(TestName=…)) loses its method; two methods may use the
        # same case name, so the method is kept in front to keep them apart.
        name = f"{holder.method}/{name}"
    case = ParsedCase(
        name,
        classname,
        holder.module,
        holder.suite,
        duration_ms=_duration(elem, nunit3=nunit3),
        started_at=values.timestamp(elem.get("start-time")) if nunit3 else None,
    )
    failure = safexml.child(elem, "failure")
    reason = safexml.child(elem, "reason")
    status = _status(elem, has_failure=failure is not None)
    if status is not Status.PASSED:
        detail = failure if status in (Status.FAILED, Status.ERROR) and failure is not None else reason
        case.add_result(
            status,
            failure_type=ctx.field(elem.get("label"), "test-case label", line)
            if status is not Status.SKIPPED
            else None,
            message=ctx.field(safexml.child_text(detail, "message"), "message", line),
            trace=ctx.field(safexml.child_text(detail, "stack-trace"), "stack-trace", line),
        )
    case.stdout = ctx.output(safexml.child_text(elem, "output"))
    case.properties = _properties(ctx, elem)
    return case


def _names(full_name: str, holder: _Holder, classname: str | None) -> tuple[str | None, str]:
    """Class and test name: the enclosing fixture's name when the full name starts with it, else a split."""
    for prefix in (holder.fixture, classname):
        if prefix and len(full_name) > len(prefix) + 1 and full_name.startswith(prefix + "."):
            return prefix, full_name[len(prefix) + 1 :]
    namespace = holder.namespace
    if (
        holder.fixture
        and namespace is not None
        and not full_name.startswith(namespace + "." if namespace else "")
    ):
        # A test named without its namespace (DUnit's NUnit output): it belongs to its fixture as named.
        return holder.fixture, full_name
    split_class, name = split_full_name(full_name)
    return split_class or holder.fixture or classname or holder.suite, name


def _status(elem: etree._Element, *, has_failure: bool) -> Status:
    result = elem.get("result")
    if result is not None:
        status = _RESULTS.get(result.lower())
        if status is not None:
            return status
    if (elem.get("executed") or "").lower() == "false":
        return Status.SKIPPED
    if has_failure or (elem.get("success") or "").lower() == "false":
        return Status.FAILED
    return Status.PASSED


def _duration(elem: etree._Element, *, nunit3: bool) -> float | None:
    if nunit3 and elem.get("duration") is not None:
        return values.duration_ms(elem.get("duration"))
    return values.duration_ms(elem.get("time"))


def _properties(ctx: ParseContext, elem: etree._Element) -> dict[str, str] | None:
    """``<properties>`` (NUnit 2.5+, 3) and ``<categories>`` (NUnit 2) as one mapping; repeats are joined."""
    found: dict[str, str] = {}
    for group in elem:
        group_name = local_name(group)
        if group_name not in ("properties", "categories"):
            continue
        for item in group:
            if group_name == "categories":
                key, value = "Category", item.get("name")
            else:
                key, value = item.get("name"), item.get("value")
            if not key or value is None:
                continue
            ctx.field(value, f"property {key[:80]!r}", item.sourceline)
            found[key] = f"{found[key]}, {value}" if key in found else value
    return found or None


def _finish_suite(ctx: ParseContext, suite: etree._Element, *, nunit3: bool) -> None:
    depth = 1 + sum(1 for _ in suite.iterancestors())
    if depth > ctx.limits.max_depth:
        raise ctx.error(f"elements are nested deeper than the limit of {ctx.limits.max_depth} levels")
    if nunit3:
        started = values.timestamp(suite.get("start-time"))
        ctx.parsed.saw_time_span(started, values.timestamp(suite.get("end-time")))
    safexml.discard_children(suite, depth, ctx.limits, ctx.name)
    safexml.discard_before(suite, depth, ctx.limits, ctx.name)


def _note_run_times(ctx: ParseContext, attributes: dict[str, str], *, nunit3: bool) -> None:
    if nunit3:
        ctx.parsed.saw_time_span(
            values.timestamp(attributes.get("start-time")), values.timestamp(attributes.get("end-time"))
        )
        return
    ctx.parsed.saw_time_span(values.date_and_time(attributes.get("date"), attributes.get("time")), None)


def _declared(root: Root, *, nunit3: bool) -> DeclaredTotals | None:
    """NUnit 3: total/failed/skipped+inconclusive; NUnit 2: total+not-run (total counts run tests only)."""
    attributes = root.attributes
    total = values.as_int(attributes.get("total"))
    if total is None:
        return None
    inconclusive = values.as_int(attributes.get("inconclusive")) or 0
    if nunit3:
        return DeclaredTotals(
            tests=total,
            failures=values.as_int(attributes.get("failed")) or 0,
            errors=0,
            skipped=(values.as_int(attributes.get("skipped")) or 0) + inconclusive,
        )
    not_run = values.as_int(attributes.get("not-run")) or 0
    return DeclaredTotals(
        tests=total + not_run,
        failures=values.as_int(attributes.get("failures")) or 0,
        errors=values.as_int(attributes.get("errors")) or 0,
        skipped=not_run + inconclusive,
    )
