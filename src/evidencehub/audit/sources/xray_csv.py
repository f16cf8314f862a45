"""Xray's test CSV export (and the Test Case Importer layout): one test per key, one step per row.

A row whose key (and summary) is empty, or repeats the previous key, carries
another step of the same test. Columns named like Jira fields become fields;
Jira's habit of repeating a column ("Labels", "Labels") gives a list.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from evidencehub.audit.schemas import FieldKind, TestCaseDocument, TestStep
from evidencehub.audit.sources.base import ReadOptions, SourceFormat, read_text
from evidencehub.audit.text import normalize_label, wiki_to_markdown
from evidencehub.errors import InputError

_KEY_COLUMNS = ("issuekey", "key", "testkey", "tcid", "testid", "issueid", "id")
_SUMMARY_COLUMNS = ("summary", "testsummary", "title", "name")
_ACTION_COLUMNS = ("action", "step", "teststep", "stepaction")
_DATA_COLUMNS = ("data", "stepdata", "testdata")
_EXPECTED_COLUMNS = ("expectedresult", "result", "expected", "stepexpectedresult")
_LIST_COLUMNS = ("labels", "components", "component", "fixversions", "fixversion")


def _detect(path: Path, head: bytes) -> bool:
    if path.suffix.lower() not in {".csv", ".tsv"}:
        return False
    first = head.decode("utf-8", "replace").lstrip("\ufeff").splitlines()[:1]
    header = (
        {normalize_label(cell) for cell in first[0].replace(";", ",").replace("\t", ",").split(",")}
        if first
        else set()
    )
    return bool(header & set(_KEY_COLUMNS + _SUMMARY_COLUMNS)) and bool(header & set(_ACTION_COLUMNS))


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    normalized = [normalize_label(cell) for cell in header]
    for name in names:
        if name in normalized:
            return normalized.index(name)
    return None


def _read(path: Path, options: ReadOptions) -> list[TestCaseDocument]:
    text = read_text(path)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        raise InputError(f"{path}: the CSV file is empty", details={"file": str(path)})
    header = [cell.strip() for cell in rows[0]]
    key_at, summary_at = _column(header, _KEY_COLUMNS), _column(header, _SUMMARY_COLUMNS)
    action_at, data_at = _column(header, _ACTION_COLUMNS), _column(header, _DATA_COLUMNS)
    expected_at = _column(header, _EXPECTED_COLUMNS)
    if key_at is None and summary_at is None:
        raise InputError(
            f"{path}: the CSV header names no key or summary column (e.g. 'Issue key', 'Summary')",
            details={"file": str(path), "header": header},
        )
    step_columns = {action_at, data_at, expected_at}
    tests: list[tuple[dict[str, list[str]], list[TestStep], int]] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(index: int | None, row: list[str] = row) -> str:
            return row[index].strip() if index is not None and index < len(row) else ""

        key, summary = cell(key_at), cell(summary_at)
        previous_key = tests[-1][0].get(header[key_at], [""])[0] if tests and key_at is not None else ""
        if not tests or ((key or summary) and key != previous_key):
            values: dict[str, list[str]] = {}
            for index, name in enumerate(header):
                if index in step_columns or not cell(index):
                    continue
                values.setdefault(name, []).append(cell(index))
            tests.append((values, [], line))
        action, data, expected = cell(action_at), cell(data_at), cell(expected_at)
        if action or data or expected:
            steps = tests[-1][1]
            steps.append(TestStep(index=len(steps) + 1, action=action, data=data, expected=expected))
    return [_document(path, header, key_at, summary_at, values, steps, line) for values, steps, line in tests]


def _document(
    path: Path,
    header: list[str],
    key_at: int | None,
    summary_at: int | None,
    values: dict[str, list[str]],
    steps: list[TestStep],
    line: int,
) -> TestCaseDocument:
    key = values.get(header[key_at], [""])[0] if key_at is not None else ""
    summary = values.get(header[summary_at], [""])[0] if summary_at is not None else ""
    document = TestCaseDocument(
        key=key or None, summary=summary or None, source=f"{path}:{line}", source_format=SOURCE.name
    )
    if key:
        document.add("Key", FieldKind.DERIVED, key, location=f"CSV column '{header[key_at or 0]}'")
    for name, cells in values.items():
        where = f"CSV column '{name}' (line {line})"
        if normalize_label(name) in _LIST_COLUMNS or len(cells) > 1:
            document.add(name, FieldKind.JIRA_FIELD, items=cells, location=where)
        else:
            document.add(name, FieldKind.JIRA_FIELD, wiki_to_markdown(cells[0]), location=where)
    if steps:
        document.add(
            "Test Steps",
            FieldKind.JIRA_FIELD,
            steps=steps,
            location="CSV step rows (Action / Data / Expected Result)",
        )
    return document


SOURCE = SourceFormat(
    name="xray_csv",
    description="Xray test CSV export (one step per row)",
    detect=_detect,
    read=_read,
    suffixes=(".csv", ".tsv"),
)
