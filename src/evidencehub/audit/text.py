"""Plain-text helpers shared by the sources: sections by heading, Jira markup, step tables.

Everything is normalised to a small Markdown dialect first (ATX headings,
pipe tables, fenced code, ``-``/``1.`` lists), so one section splitter and one
step parser serve Jira descriptions, Markdown files and docstrings alike.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from evidencehub.audit.schemas import TestStep

_ATX = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
# A line that is only bold text, usually ending in a colon: "*Test Steps:*" (Jira) or "**Objective**".
_BOLD_LINE = re.compile(r"^\s*(\*\*|\*|__)\s*([^*_]{2,80}?)\s*:?\s*\1\s*:?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def normalize_label(label: str) -> str:
    """Case-, space- and punctuation-insensitive form of a field name ("Pre-Conditions" = "preconditions")."""
    text = unicodedata.normalize("NFKC", label).casefold()
    return "".join(char for char in text if char.isalnum())


@dataclass(frozen=True)
class Section:
    heading: str
    level: int
    body: str
    line: int  # 1-based line of the heading
    end: int  # 1-based last line of the body (its subsections included)


def split_sections(text: str) -> tuple[str, list[Section]]:
    """The text before the first heading, and each section (heading, body) in order.

    Headings are ATX headings or lines that are only bold text; headings inside
    fenced code blocks do not count. A section's body runs to the next heading
    of the same or a higher level, so it includes its subsections.
    """
    lines = text.splitlines()
    headings: list[tuple[int, str, int]] = []  # (line index, heading, level)
    in_fence = False
    for index, line in enumerate(lines):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        found = None if in_fence else _heading(line)
        if found is not None:
            headings.append((index, found[0], found[1]))
    if not headings:
        return text.strip(), []
    preamble = "\n".join(lines[: headings[0][0]]).strip()
    sections = []
    for position, (index, heading, level) in enumerate(headings):
        end = next(
            (later for later, _, later_level in headings[position + 1 :] if later_level <= level),
            len(lines),
        )
        body = "\n".join(lines[index + 1 : end]).strip()
        sections.append(Section(heading, level, body, index + 1, end))
    return preamble, sections


def cut_sections(text: str, removed: Iterable[Section], *, unheaded: Iterable[Section] = ()) -> str:
    """``text`` without the ``removed`` sections (heading and body) and without the headings of ``unheaded``.

    The sections must come from ``split_sections(text)``: they are cut by their lines.
    """
    dropped = {number for section in removed for number in range(section.line, section.end + 1)}
    dropped.update(section.line for section in unheaded)
    lines = text.splitlines()
    return "\n".join(line for number, line in enumerate(lines, start=1) if number not in dropped).strip()


def _heading(line: str) -> tuple[str, int] | None:
    match = _ATX.match(line)
    if match:
        return match.group(2).strip().rstrip(":").strip(), len(match.group(1))
    match = _BOLD_LINE.match(line)
    if match:
        return match.group(2).strip().rstrip(":").strip(), 7
    return None


# --- Jira wiki markup (Server / Data Center descriptions) -------------------------------------------

_WIKI_HEADING = re.compile(r"^h([1-6])\.\s+(.*)$")
_WIKI_CODE = re.compile(r"^\{(code|noformat)(?::([^}|]*))?[^}]*\}(.*)$")
_WIKI_LIST = re.compile(r"^([#*-]+)\s+(.*)$")


def wiki_to_markdown(text: str) -> str:
    """Jira wiki markup → the Markdown dialect the splitter and step parser read."""
    out: list[str] = []
    in_code = False
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip()
        if in_code:
            if line.strip().startswith(("{code}", "{noformat}")):
                out.append("```")
                in_code = False
            else:
                out.append(line)
            continue
        code = _WIKI_CODE.match(line.strip())
        if code:
            language = (code.group(2) or "").strip()
            out.append(f"```{language}")
            rest = code.group(3)
            if rest.strip().endswith(("{code}", "{noformat}")):
                out.append(re.sub(r"\{(code|noformat)\}\s*$", "", rest))
                out.append("```")
            else:
                if rest.strip():
                    out.append(rest)
                in_code = True
            continue
        heading = _WIKI_HEADING.match(line)
        if heading:
            out.append(f"{'#' * int(heading.group(1))} {heading.group(2)}")
            continue
        if line.startswith("||"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("||")]
            out.append("| " + " | ".join(cells) + " |")
            out.append("|" + "---|" * len(cells))
            continue
        listing = _WIKI_LIST.match(line)
        if listing:
            marker = "1." if listing.group(1).endswith("#") else "-"
            indent = "  " * (len(listing.group(1)) - 1)
            out.append(f"{indent}{marker} {listing.group(2)}")
            continue
        out.append(line)
    return "\n".join(out)


# --- Atlassian Document Format (Jira Cloud REST v3 descriptions) ------------------------------------


def adf_to_markdown(node: Any) -> str:
    """An ADF document (``{"type": "doc", "content": [...]}``) → Markdown."""
    return "\n".join(_adf_block(node, 0)).strip()


def _adf_inline(node: Any) -> str:
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind in {"mention", "emoji", "status", "date"}:
        attrs = node.get("attrs") or {}
        return str(attrs.get("text") or attrs.get("shortName") or attrs.get("timestamp") or "")
    if kind == "inlineCard":
        return str((node.get("attrs") or {}).get("url", ""))
    return "".join(_adf_inline(child) for child in node.get("content") or [])


def _adf_children(node: dict[str, Any], depth: int) -> list[str]:
    return [line for child in node.get("content") or [] for line in _adf_block(child, depth)]


def _adf_inline_text(node: dict[str, Any]) -> str:
    return "".join(_adf_inline(child) for child in node.get("content") or [])


def _adf_heading(node: dict[str, Any], depth: int) -> list[str]:
    level = int((node.get("attrs") or {}).get("level", 2))
    return [f"{'#' * level} {_adf_inline_text(node)}", ""]


def _adf_list(node: dict[str, Any], depth: int) -> list[str]:
    marker = "1." if node.get("type") == "orderedList" else "-"
    lines = []
    for item in node.get("content") or []:
        item_lines = [line for line in _adf_children(item, depth + 1) if line]
        if item_lines:
            lines.append(f"{'  ' * depth}{marker} {item_lines[0].strip()}")
            lines.extend(f"{'  ' * (depth + 1)}{line.strip()}" for line in item_lines[1:])
    return [*lines, ""]


def _adf_code(node: dict[str, Any], depth: int) -> list[str]:
    language = (node.get("attrs") or {}).get("language") or ""
    return [f"```{language}", _adf_inline_text(node), "```", ""]


def _adf_table(node: dict[str, Any], depth: int) -> list[str]:
    rows = []
    for row in node.get("content") or []:
        cells = [
            " ".join(line for line in _adf_children(cell, 0) if line) for cell in row.get("content") or []
        ]
        rows.append("| " + " | ".join(cells) + " |")
    if rows:
        rows.insert(1, "|" + "---|" * (rows[0].count("|") - 1))
    return [*rows, ""]


_ADF_BLOCKS: dict[str, Any] = {
    "doc": _adf_children,
    "blockquote": _adf_children,
    "panel": _adf_children,
    "expand": _adf_children,
    "nestedExpand": _adf_children,
    "heading": _adf_heading,
    "paragraph": lambda node, depth: [_adf_inline_text(node), ""],
    "bulletList": _adf_list,
    "orderedList": _adf_list,
    "codeBlock": _adf_code,
    "table": _adf_table,
    "rule": lambda node, depth: ["---", ""],
}


def _adf_block(node: Any, depth: int) -> list[str]:
    if not isinstance(node, dict):
        return []
    handler = _ADF_BLOCKS.get(str(node.get("type")))
    if handler is None:
        return [_adf_inline_text(node)]
    lines: list[str] = handler(node, depth)
    return lines


# --- lists, tables and steps -------------------------------------------------------------------------

_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)]|#)\s+(.*\S)\s*$")
_NUMBERED = re.compile(r"^\s*(?:step\s*)?(\d+)\s*[.):-]\s*(.*\S)\s*$", re.IGNORECASE)
_TABLE_ROW = re.compile(r"^\s*\|(.*)\|\s*$")
_SEPARATOR_ROW = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_EXPECTED = re.compile(
    r"^\s*(?:[-*]\s*)?(?:expected(?:\s+result)?|expect|result|then|תוצאה\s+צפויה|צפוי)\s*[:：-]\s*(.*)$",
    re.IGNORECASE,
)
_DATA = re.compile(r"^\s*(?:[-*]\s*)?(?:data|test\s+data|נתונים)\s*[:：-]\s*(.*)$", re.IGNORECASE)
_ARROW = re.compile(r"\s*(?:→|=>|->|⇒)\s*")

_ACTION_HEADERS = {"action", "step", "steps", "description", "פעולה", "צעד"}
_DATA_HEADERS = {"data", "testdata", "input", "נתונים"}
_EXPECTED_HEADERS = {"expectedresult", "expected", "result", "expectedoutcome", "תוצאהצפויה", "תוצאה"}


def list_items(text: str) -> list[str]:
    """The items of a bullet or numbered list (or the non-empty lines when there is no list)."""
    items: list[str] = []
    plain: list[str] = []
    for line in text.splitlines():
        if _TABLE_ROW.match(line) or _SEPARATOR_ROW.match(line) or _FENCE.match(line):
            continue
        match = _LIST_ITEM.match(line)
        if match:
            items.append(match.group(1).strip())
        elif line.strip():
            if items and line.startswith((" ", "\t")):
                items[-1] = f"{items[-1]} {line.strip()}"
            else:
                plain.append(line.strip())
    return items or plain


def table_rows(text: str) -> list[list[str]]:
    """Rows of the first pipe table in ``text`` (header first), cells stripped."""
    rows: list[list[str]] = []
    for line in text.splitlines():
        if _SEPARATOR_ROW.match(line) and rows:
            continue
        match = _TABLE_ROW.match(line)
        if match:
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", match.group(1))])
        elif rows:
            break
    return rows


def parse_steps(text: str) -> list[TestStep]:
    """Steps from a table (# / Action / Data / Expected Result) or a numbered list.

    In a list, the expected result follows an arrow (``Do X → Y``), or an
    ``Expected:`` line, and the data a ``Data:`` line, under the step.
    """
    rows = table_rows(text)
    if len(rows) >= 2:
        steps = _steps_from_table(rows)
        if steps:
            return steps
    return _steps_from_list(text)


def _steps_from_table(rows: list[list[str]]) -> list[TestStep]:
    header = [normalize_label(cell) for cell in rows[0]]

    def column(names: set[str]) -> int | None:
        return next((index for index, name in enumerate(header) if name in names), None)

    action, data, expected = column(_ACTION_HEADERS), column(_DATA_HEADERS), column(_EXPECTED_HEADERS)
    if action is None:
        return []
    steps = []
    for number, row in enumerate(rows[1:], start=1):

        def cell(index: int | None, row: list[str] = row) -> str:
            return row[index] if index is not None and index < len(row) else ""

        if not any(row):
            continue
        steps.append(TestStep(index=number, action=cell(action), data=cell(data), expected=cell(expected)))
    return steps


def _steps_from_list(text: str) -> list[TestStep]:
    steps: list[TestStep] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        expected_line, data_line = _EXPECTED.match(line), _DATA.match(line)
        if steps and (expected_line or data_line):
            step = steps[-1]
            if expected_line:
                step.expected = " ".join(filter(None, (step.expected, expected_line.group(1).strip())))
            elif data_line:
                step.data = " ".join(filter(None, (step.data, data_line.group(1).strip())))
            continue
        numbered = _NUMBERED.match(line)
        bullet = _LIST_ITEM.match(line)
        if numbered or (bullet and not line.startswith((" ", "\t"))):
            body = numbered.group(2) if numbered else bullet.group(1) if bullet else line
            parts = _ARROW.split(body, maxsplit=1)
            expected = parts[1].strip() if len(parts) == 2 else ""
            steps.append(TestStep(index=len(steps) + 1, action=parts[0].strip(), expected=expected))
        elif steps:
            steps[-1].action = f"{steps[-1].action} {line.strip()}".strip()
    return steps


def steps_to_markdown(steps: list[TestStep]) -> str:
    lines = ["| # | Action | Data | Expected Result |", "|---|---|---|---|"]
    for step in steps:
        cells = [str(step.index), step.action, step.data, step.expected]
        lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |")
    return "\n".join(lines)


def code_blocks(text: str) -> list[str]:
    """The contents of fenced code blocks, in order."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if _FENCE.match(line):
            if current is None:
                current = []
            else:
                blocks.append("\n".join(current))
                current = None
            continue
        if current is not None:
            current.append(line)
    return blocks
