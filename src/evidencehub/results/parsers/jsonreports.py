"""JSON test reports: which reporter wrote the file, and reading it within bounds.

Two shapes exist. JSON Lines reporters (dart ``--reporter json``, ``go test
-json``) are streamed one line at a time, each line bounded. Whole-document
reporters (mocha's ``json`` reporter, rspec ``--format json``) are loaded at
once; the stream is bounded by ``max_bytes``, so a document can never be
larger than the configured file limit.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

from evidencehub.results.parsers import dartjson, gotestjson, mochajson, rspecjson
from evidencehub.results.parsers.base import ParsedCase
from evidencehub.results.parsers.context import ParseContext
from evidencehub.results.parsers.jsonlines import JsonLines

DocumentParser = Callable[[ParseContext, dict[str, Any]], Iterator[ParsedCase]]
LinesParser = Callable[[ParseContext, JsonLines], Iterator[ParsedCase]]

_LINE_FORMATS: dict[str, LinesParser] = {dartjson.FORMAT: dartjson.parse, gotestjson.FORMAT: gotestjson.parse}
_DOCUMENT_FORMATS: dict[str, DocumentParser] = {
    mochajson.FORMAT: mochajson.parse,
    rspecjson.FORMAT: rspecjson.parse,
}
FORMATS: tuple[str, ...] = (*_DOCUMENT_FORMATS, *_LINE_FORMATS)


def parse(ctx: ParseContext, fmt: str) -> Iterator[ParsedCase]:
    """Detect the reporter (unless ``fmt`` names it) and return its cases."""
    first = _first_line_object(ctx)
    line_format = _line_format_of(first)
    if line_format is not None:
        _expect(ctx, fmt, line_format)
        return _LINE_FORMATS[line_format](ctx, JsonLines(ctx))
    document = _load_document(ctx)
    document_format = _document_format_of(document)
    if document_format is None:
        raise ctx.error(
            "the JSON is not a known test report; expected a mocha report (stats, tests), an rspec report "
            "(examples), dart test JSON lines (type) or go test -json lines (Action)"
        )
    _expect(ctx, fmt, document_format)
    assert isinstance(document, dict)
    return _DOCUMENT_FORMATS[document_format](ctx, document)


def _expect(ctx: ParseContext, fmt: str, found: str) -> None:
    if fmt not in ("auto", found):
        raise ctx.error(f"expected {fmt}, but the file is {found}")


def _first_line_object(ctx: ParseContext) -> Any:
    """The first line parsed as JSON, or None when it is not a complete JSON value on its own."""
    with ctx.open(report_progress=False) as raw:
        line = io.BufferedReader(raw).readline(JsonLines.max_line_bytes(ctx))  # type: ignore[arg-type]
    try:
        return json.loads(line)
    except ValueError:
        return None


def _line_format_of(first: Any) -> str | None:
    if not isinstance(first, dict):
        return None
    if "Action" in first and ("Package" in first or "Time" in first):
        return gotestjson.FORMAT
    if first.get("type") in dartjson.EVENT_TYPES or "protocolVersion" in first:
        return dartjson.FORMAT
    return None


def _load_document(ctx: ParseContext) -> Any:
    with ctx.open() as stream:
        data = stream.read()
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise ctx.error(f"not valid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ctx.error(f"not valid JSON: {type(exc).__name__}") from None


def _document_format_of(document: Any) -> str | None:
    if not isinstance(document, dict):
        return None
    if isinstance(document.get("examples"), list):
        return rspecjson.FORMAT
    if isinstance(document.get("stats"), dict) and isinstance(
        document.get("tests", document.get("passes")), list
    ):
        return mochajson.FORMAT
    return None
