"""Telling what a result file is from its first bytes and its root element."""

from __future__ import annotations

from enum import Enum

from evidencehub.results.parsers.context import ParseContext

# Enough of the start of a file to skip a BOM and leading blanks before the first real character.
_SNIFF_BYTES = 4096
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)


class Syntax(Enum):
    XML = "xml"
    JSON = "json"


def sniff(ctx: ParseContext) -> Syntax:
    """XML or JSON, from the first character that is not a BOM, blank or NUL; anything else is refused."""
    with ctx.open(report_progress=False) as stream:
        head = stream.read(_SNIFF_BYTES)
    if not head:
        raise ctx.error("file is empty")
    first = _first_character(head)
    if first is None:
        raise ctx.error("file is empty (it holds only blanks)")
    if first == "<":
        return Syntax.XML
    if first in "{[":
        return Syntax.JSON
    raise ctx.error(
        f"not a test-result file: it starts with {first!r}, but XML results start with '<' and JSON reports with '{{'"
    )


def _first_character(head: bytes) -> str | None:
    encoding = "utf-8"
    for bom, name in _BOMS:
        if head.startswith(bom):
            head, encoding = head[len(bom) :], name
            break
    else:
        if len(head) >= 2 and (head[0] == 0) != (head[1] == 0):
            # UTF-16 without a BOM: every ASCII character comes with a NUL byte.
            encoding = "utf-16-be" if head[0] == 0 else "utf-16-le"
    text = head.decode(encoding, errors="ignore")
    stripped = text.lstrip(" \t\r\n\x00\ufeff")
    return stripped[0] if stripped else None
