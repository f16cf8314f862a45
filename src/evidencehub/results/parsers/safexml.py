"""The one place that creates XML parsers, and the guards every XML format shares.

Result files come from anywhere, so the parser never expands an entity, never
loads a DTD and never touches the network or a local file: an XXE document is
read with its entity references left as they are. libxml2's own limits stay on
(``huge_tree`` only when the configured limits need more), which also stops
entity-amplification ("billion laughs") documents. Syntax errors become
ResultFileError naming the file and line.

Formats stream with ``iterparse``: they handle an element at its end event and
then remove it from the tree, so memory stays flat however large the file. The
depth limit is checked on every subtree that is handled or removed (only
subtrees with grandchildren need a walk), so nothing deeper than the limit ever
goes by unchecked.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from lxml import etree

from evidencehub.results.parsers.base import ParseLimits, ResultFileError

# libxml2's defaults without XML_PARSE_HUGE (XML_MAX_TEXT_LENGTH, xmlParserMaxDepth).
LIBXML2_TEXT_LIMIT = 10_000_000
LIBXML2_DEPTH_LIMIT = 256
LIBXML2_HUGE_DEPTH_LIMIT = 2048

_WHERE_SUFFIX = re.compile(r"(?:\s*,\s*line \d+, column \d+)+\s*$")
_FILE_SUFFIX = re.compile(r"\s*\([^()]*, line \d+\)\s*$")


class ByteStream(Protocol):
    """What the parsers read from: anything with ``read(n) -> bytes``."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Root:
    """The root element of a document: local name, namespace and attributes."""

    name: str
    namespace: str | None
    attributes: dict[str, str]


def needs_huge_tree(limits: ParseLimits) -> bool:
    """Whether the configured limits go beyond what libxml2 accepts by default."""
    longest = max(limits.max_field_chars, limits.max_output_chars)
    return longest > LIBXML2_TEXT_LIMIT or limits.max_depth > LIBXML2_DEPTH_LIMIT


def iterparse(
    stream: ByteStream,
    *,
    limits: ParseLimits,
    events: tuple[str, ...] = ("end",),
    tag: str | Collection[str] | None = None,
) -> etree.iterparse:
    """A streaming parser over ``stream`` with entities, DTDs and network off.

    Comments and processing instructions are dropped while parsing: no format
    needs them, and leaving them out keeps element texts whole.
    """
    return etree.iterparse(
        stream,
        events=events,
        tag=tag,
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
        huge_tree=needs_huge_tree(limits),
    )


_documents = threading.local()


def document_parser() -> etree.XMLParser:
    """A parser for whole documents held in memory (payloads, schemas), with the same protections.

    lxml parsers must not be shared between threads: each thread gets its own.
    """
    parser: etree.XMLParser | None = getattr(_documents, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            load_dtd=False,
            no_network=True,
            dtd_validation=False,
            remove_comments=True,
            remove_pis=True,
            huge_tree=False,
        )
        _documents.parser = parser
    return parser


@contextmanager
def syntax_errors(source: str) -> Iterator[None]:
    """Turn libxml2's complaints inside the block into ResultFileError naming file and line."""
    try:
        yield
    except etree.ParseError as exc:  # XMLSyntaxError and its relatives
        raise _as_result_error(exc, source) from None


def _as_result_error(exc: etree.ParseError, source: str) -> ResultFileError:
    raw = str(exc.msg or exc)
    message = _FILE_SUFFIX.sub("", _WHERE_SUFFIX.sub("", raw.replace("\n", " "))).strip()
    last = getattr(exc.error_log, "last_error", None)  # not in lxml-stubs
    type_name = getattr(last, "type_name", None)
    if message.startswith("Unregistered error message") and isinstance(type_name, str):
        # libxml2 has no text for some errors (an unfinished CDATA section); its code name says it.
        message = type_name.removeprefix("ERR_").replace("_", " ").lower()
    line = exc.lineno or None
    if "huge text node" in message or "too long" in message:
        reason = (
            f"a text in the file is longer than libxml2's limit of {LIBXML2_TEXT_LIMIT:,} characters "
            f"(raise ingest.max_field_kb above {LIBXML2_TEXT_LIMIT // 1024:,} to accept it)"
        )
    elif "Excessive depth" in message:
        reason = (
            f"elements are nested deeper than libxml2 allows ({LIBXML2_DEPTH_LIMIT} levels; "
            f"{LIBXML2_HUGE_DEPTH_LIMIT} when ingest.max_depth is above {LIBXML2_DEPTH_LIMIT})"
        )
    elif "amplification" in message or "entity reference loop" in message.lower():
        reason = f"entity expansion refused (a 'billion laughs' document?): {message}"
    elif message.startswith("Document is empty") or message.startswith("Start tag expected"):
        reason = f"not XML ({message})"
    else:
        reason = f"not well-formed XML: {message}"
    return ResultFileError(source, reason, line=line)


def read_root(stream: ByteStream, *, source: str, limits: ParseLimits) -> Root:
    """The root element's name, namespace and attributes, reading no further than its start tag."""
    with syntax_errors(source):
        for _event, element in iterparse(stream, limits=limits, events=("start",)):
            qname = etree.QName(element)
            return Root(qname.localname, qname.namespace, dict(element.attrib))
    raise ResultFileError(source, "not XML: no root element found")


def local_name(element: etree._Element) -> str:
    """An element's tag without its namespace ("" for comments and entity references)."""
    tag: object = element.tag  # a function, not a str, for entity references
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2] if tag[:1] == "{" else tag


def line_of(element: etree._Element) -> int | None:
    """The line an element starts on (None when libxml2 does not know it)."""
    line: object = element.sourceline  # untyped in lxml-stubs
    return line if isinstance(line, int) and line > 0 else None


def check_depth(element: etree._Element, depth: int, limits: ParseLimits, source: str) -> None:
    """Refuse ``element`` (at nesting ``depth``, the root being 1) if it or anything in it is too deep."""
    limit = limits.max_depth
    pending = [(element, depth)]
    while pending:
        node, level = pending.pop()
        if level > limit:
            raise ResultFileError(
                source,
                f"elements are nested deeper than the limit of {limit} levels "
                "(raise ingest.max_depth to accept it)",
                line=line_of(node),
            )
        pending.extend((child, level + 1) for child in node if len(child) or level + 1 > limit)


def discard_before(element: etree._Element, depth: int, limits: ParseLimits, source: str) -> None:
    """Remove the siblings before ``element`` (all handled already) after checking their depth."""
    parent = element.getparent()
    if parent is None:
        return
    first = parent[0]
    while first is not element:
        if len(first):
            check_depth(first, depth, limits, source)
        del parent[0]
        first = parent[0]


def discard_children(element: etree._Element, depth: int, limits: ParseLimits, source: str) -> None:
    """Empty ``element`` (at ``depth``) after checking the depth of what it still holds."""
    for child in element:
        if len(child):
            check_depth(child, depth + 1, limits, source)
    element.clear()


def text(element: etree._Element) -> str | None:
    """The character data directly inside ``element``; entity references are left out, never expanded."""
    value = element.text
    if len(element) == 0:
        return value
    parts = [value] if value else []
    parts.extend(child.tail for child in element if child.tail)
    return "".join(parts) if parts else None


def child(element: etree._Element, name: str) -> etree._Element | None:
    """The first child element with local name ``name``."""
    for candidate in element:
        if local_name(candidate) == name:
            return candidate
    return None


def child_text(element: etree._Element | None, name: str) -> str | None:
    """The text of the first child element named ``name`` (None when there is none)."""
    if element is None:
        return None
    found = child(element, name)
    return text(found) if found is not None else None
