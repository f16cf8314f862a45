"""Streaming parsers for test-result files: one entry point, one module per format family.

``parse_source`` opens a source, works out its format from the root element
(or the shape of its JSON), and yields its test cases one at a time while
filling in the ParsedFile it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from evidencehub.errors import InputError
from evidencehub.results.inputs import InputSource
from evidencehub.results.parsers import ctest, jsonreports, junit, nunit, safexml, trx, xunit
from evidencehub.results.parsers.base import ParsedCase, ParsedFile, ParseLimits
from evidencehub.results.parsers.context import ParseContext
from evidencehub.results.parsers.detect import Syntax, sniff
from evidencehub.results.parsers.safexml import Root

__all__ = ["FORMAT_CHOICES", "parse_source"]

XmlParser = Callable[[ParseContext, Root], Iterator[ParsedCase]]

# Format family → (root elements it accepts, parser, how the family is named in messages).
_XML_FAMILIES: dict[str, tuple[tuple[str, ...], XmlParser, str]] = {
    "junit": (junit.ROOTS, junit.parse, "<testsuites> or <testsuite>"),
    "nunit": (nunit.ROOTS, nunit.parse, "<test-run>, <test-results> or <test-suite>"),
    "xunit": (xunit.ROOTS, xunit.parse, "<assemblies> or <assembly>"),
    "trx": (trx.ROOTS, trx.parse, "<TestRun>"),
    "ctest": (ctest.ROOTS, ctest.parse, "<Site>"),
}

FORMAT_CHOICES: tuple[str, ...] = ("auto", *_XML_FAMILIES, *jsonreports.FORMATS)


def parse_source(
    source: InputSource,
    parsed: ParsedFile,
    *,
    fmt: str = "auto",
    limits: ParseLimits,
    max_bytes: int,
    on_read: Callable[[int], None] | None = None,
) -> Iterator[ParsedCase]:
    """The test cases of one result file, streamed.

    ``fmt`` is ``auto`` (detect) or one of FORMAT_CHOICES; a file whose content
    is not of the named format is refused with a ResultFileError saying what
    was found. The format is detected (and ``parsed.format`` set) before this
    returns; the cases are read as the iterator is consumed.
    """
    if fmt not in FORMAT_CHOICES:
        raise InputError(
            f"format {fmt!r} is not known; choose one of {', '.join(FORMAT_CHOICES)}",
            details={"parameter": "format", "choices": list(FORMAT_CHOICES)},
        )
    ctx = ParseContext(source, parsed, limits, max_bytes, on_read)
    syntax = sniff(ctx)
    if syntax is Syntax.JSON:
        if fmt != "auto" and fmt not in jsonreports.FORMATS:
            raise ctx.error(f"expected {fmt} (XML), but the file is JSON")
        return jsonreports.parse(ctx, fmt)
    if fmt in jsonreports.FORMATS:
        raise ctx.error(f"expected {fmt} (JSON), but the file is XML")
    with ctx.open(report_progress=False) as stream:
        root = safexml.read_root(stream, source=ctx.name, limits=limits)
    family = _family_of(root)
    if fmt not in ("auto", family or ""):
        roots = _XML_FAMILIES[fmt][2]
        raise ctx.error(f"expected {fmt} (root element {roots}), but the root element is <{root.name}>")
    if family is None:
        raise ctx.error(
            f"the root element <{root.name}> is not a known test-result format; expected "
            + "; ".join(f"{described} ({name})" for name, (_, _, described) in _XML_FAMILIES.items())
        )
    return _XML_FAMILIES[family][1](ctx, root)


def _family_of(root: Root) -> str | None:
    for family, (roots, _parser, _described) in _XML_FAMILIES.items():
        if root.name in roots:
            return family
    return None
