"""Markdown test documents: each top-level heading is a test, its sub-headings are its fields.

``# PZ-13602: Integration – RabbitMQ outage`` starts a test (key and summary);
``Field: value`` lines (optionally bold or bulleted) before the first
sub-heading are fields too (Priority, Labels…). A file without a top-level
heading is one test named after the file.
"""

from __future__ import annotations

import re
from pathlib import Path

from evidencehub.audit.schemas import FieldKind, TestCaseDocument
from evidencehub.audit.sources.base import ReadOptions, SourceFormat, read_text
from evidencehub.audit.text import split_sections

KEY_TITLE = re.compile(r"^\s*\[?([A-Z][A-Z0-9_]*-\d+)\]?\s*(?:[:–—|-]\s*)?(.*)$")
_INLINE_FIELD = re.compile(
    r"^\s*(?:[-*]\s+)?(?:\*\*|__)?([^*_:|]{1,40}?)(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*(.+)$"
)


def _detect(path: Path, head: bytes) -> bool:
    return path.suffix.lower() in {".md", ".markdown"}


def _read(path: Path, options: ReadOptions) -> list[TestCaseDocument]:
    text = read_text(path)
    preamble, sections = split_sections(text)
    top = min((section.level for section in sections), default=0)
    tests = [section for section in sections if section.level == top and top == 1]
    if not tests:
        document = TestCaseDocument(source=str(path), source_format=SOURCE.name, summary=path.stem)
        _fill(document, preamble, sections, str(path))
        return [document]
    documents = []
    for test in tests:
        match = KEY_TITLE.match(test.heading)
        key, summary = (match.group(1), match.group(2).strip() or None) if match else (None, test.heading)
        document = TestCaseDocument(
            key=key, summary=summary, source=f"{path}:{test.line}", source_format=SOURCE.name
        )
        if key:
            document.add("Key", FieldKind.DERIVED, key, location=f"heading on line {test.line}")
        if summary:
            document.add("Summary", FieldKind.HEADING, summary, location=f"heading on line {test.line}")
        own_preamble, own_sections = split_sections(test.body)
        _fill(document, own_preamble, own_sections, f"{path}:{test.line}")
        documents.append(document)
    return documents


def _fill(document: TestCaseDocument, preamble: str, sections: list, where: str) -> None:  # type: ignore[type-arg]
    leftover = []
    for line in preamble.splitlines():
        match = _INLINE_FIELD.match(line)
        if match and not match.group(1).strip().startswith(("http", "```")):
            document.add(
                match.group(1).strip(),
                FieldKind.HEADING,
                match.group(2).strip(),
                location=f"{where}, '{match.group(1).strip()}:' line",
            )
        elif line.strip():
            leftover.append(line)
    if leftover:
        document.add(
            "Description", FieldKind.HEADING, "\n".join(leftover), location=f"{where}, text under the title"
        )
    for section in sections:
        document.add(
            section.heading,
            FieldKind.HEADING,
            section.body,
            location=f"{where.split(':', maxsplit=1)[0]}:{section.line} section '{section.heading}'",
        )


SOURCE = SourceFormat(
    name="markdown",
    description="Markdown test documents (headings as fields)",
    detect=_detect,
    read=_read,
    suffixes=(".md", ".markdown"),
)
