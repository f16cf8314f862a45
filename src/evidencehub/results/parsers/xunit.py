"""xUnit.net XML: v2 (``<assemblies>``) and v1 (``<assembly>``), also as written by Fixie.

``module`` is the assembly file name without its directory, ``classname`` the
test's ``type``, and the name is the display name without a leading
``type.``. Results: Pass → passed, Fail → failed, Skip/NotRun → skipped.
``<traits>`` become properties. Assembly-level ``<errors>`` (fixture clean-up
failures and the like) are not tests; they are reported as warnings.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from evidencehub.results.parsers import safexml, values
from evidencehub.results.parsers.base import DeclaredTotals, ParsedCase
from evidencehub.results.parsers.context import ParseContext
from evidencehub.results.parsers.safexml import Root, local_name
from evidencehub.results.status import Status

ROOTS = ("assemblies", "assembly")

_RESULTS = {"pass": Status.PASSED, "fail": Status.FAILED, "skip": Status.SKIPPED, "notrun": Status.SKIPPED}


def parse(ctx: ParseContext, root: Root) -> Iterator[ParsedCase]:
    """Yield every ``<test>`` of an xUnit.net document."""
    ctx.parsed.format = "xunit2" if root.name == "assemblies" else "xunit1"
    prefix = f"{{{root.namespace}}}" if root.namespace else ""
    test_tag, assembly_tag, error_tag = prefix + "test", prefix + "assembly", prefix + "error"
    # Collections (v2) and classes (v1) are many in a large assembly: each is dropped when it ends.
    group_tags = (prefix + "collection", prefix + "class")
    declared: DeclaredTotals | None = None
    holder_element: etree._Element | None = None
    module: str | None = None
    suite: str | None = None
    depth = 1

    stream = ctx.open()
    with stream, safexml.syntax_errors(ctx.name, ctx.limits):
        events = safexml.iterparse(
            stream, limits=ctx.limits, tag=(test_tag, assembly_tag, error_tag, *group_tags)
        )
        for _event, elem in events:
            if elem.tag == error_tag:
                _note_assembly_error(ctx, elem)
                continue
            if elem.tag == assembly_tag:
                declared = _add_declared(declared, elem)
                _note_times(ctx, elem)
                _prune(ctx, elem)
                continue
            if elem.tag in group_tags:
                _prune(ctx, elem)
                continue
            parent = elem.getparent()
            if parent is not holder_element:
                holder_element = parent
                module, suite, depth = _holder(ctx, parent, assembly_tag)
            case = _case(ctx, elem, module, suite)
            safexml.discard_children(elem, depth, ctx.limits, ctx.name)
            safexml.discard_before(elem, depth, ctx.limits, ctx.name)
            if case is not None:
                yield case
        if events.root is not None:
            safexml.discard_children(events.root, 1, ctx.limits, ctx.name)
    ctx.parsed.declared = declared


def _holder(
    ctx: ParseContext, holder: etree._Element | None, assembly_tag: str
) -> tuple[str | None, str | None, int]:
    """Assembly file name, collection (or class) name and test depth for the tests in ``holder``."""
    if holder is None:
        return None, None, 1
    depth = 2 + sum(1 for _ in holder.iterancestors())
    if depth > ctx.limits.max_depth:
        raise ctx.error(f"elements are nested deeper than the limit of {ctx.limits.max_depth} levels")
    assembly = holder if holder.tag == assembly_tag else next(holder.iterancestors(assembly_tag), None)
    module = values.base_name(assembly.get("name")) if assembly is not None else None
    suite = holder.get("name") if holder is not assembly else None
    return module, suite, depth


def _case(
    ctx: ParseContext, elem: etree._Element, module: str | None, suite: str | None
) -> ParsedCase | None:
    display = elem.get("name")
    classname = elem.get("type") or None
    if not display:
        method = elem.get("method")
        if not method:
            ctx.warn("tests without a name were left out")
            return None
        display = method
    line = elem.sourceline
    ctx.field(display, "test name", line)
    case = ParsedCase(
        values.strip_prefix(display, classname),
        classname,
        module,
        suite,
        duration_ms=values.duration_ms(elem.get("time")),
    )
    status = _RESULTS.get((elem.get("result") or "").lower(), Status.PASSED)
    if status is not Status.PASSED:
        failure = safexml.child(elem, "failure")
        if status is Status.FAILED and failure is not None:
            case.add_result(
                status,
                failure_type=ctx.field(failure.get("exception-type"), "exception-type", line),
                message=ctx.field(safexml.child_text(failure, "message"), "failure message", line),
                trace=ctx.field(safexml.child_text(failure, "stack-trace"), "stack-trace", line),
            )
        else:
            case.add_result(status, message=ctx.field(safexml.child_text(elem, "reason"), "reason", line))
    case.stdout = ctx.output(safexml.child_text(elem, "output"))
    case.properties = _traits(ctx, elem)
    return case


def _traits(ctx: ParseContext, elem: etree._Element) -> dict[str, str] | None:
    traits = safexml.child(elem, "traits")
    if traits is None:
        return None
    found: dict[str, str] = {}
    for trait in traits:
        key, value = trait.get("name"), trait.get("value")
        if local_name(trait) != "trait" or not key or value is None:
            continue
        ctx.field(value, f"trait {key[:80]!r}", trait.sourceline)
        found[key] = f"{found[key]}, {value}" if key in found else value
    return found or None


def _add_declared(declared: DeclaredTotals | None, assembly: etree._Element) -> DeclaredTotals | None:
    total = values.as_int(assembly.get("total"))
    if total is None:
        return declared
    declared = declared or DeclaredTotals()
    declared.tests += total
    declared.failures += values.as_int(assembly.get("failed")) or 0
    declared.skipped += values.as_int(assembly.get("skipped")) or 0
    return declared


def _note_times(ctx: ParseContext, assembly: etree._Element) -> None:
    started = values.date_and_time(assembly.get("run-date"), assembly.get("run-time"))
    ctx.parsed.saw_time_span(started, values.plus_ms(started, values.duration_ms(assembly.get("time"))))


def _note_assembly_error(ctx: ParseContext, error: etree._Element) -> None:
    kind = error.get("type") or "error"
    name = error.get("name") or ""
    message = safexml.child_text(safexml.child(error, "failure"), "message") or ""
    ctx.warn(f"assembly {kind} {name}: {message.strip()[:200]}".rstrip(": "))


def _prune(ctx: ParseContext, assembly: etree._Element) -> None:
    depth = 1 + sum(1 for _ in assembly.iterancestors())
    safexml.discard_children(assembly, depth, ctx.limits, ctx.name)
    safexml.discard_before(assembly, depth, ctx.limits, ctx.name)
