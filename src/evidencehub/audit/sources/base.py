"""What a test-case source module provides, and the options every source receives."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidencehub.audit.schemas import TestCaseDocument
from evidencehub.errors import InputError


@dataclass(frozen=True)
class ReadOptions:
    """Options of a read: Jira field ids → names (when the export lacks ``names``), limits, repo root."""

    jira_field_names: Mapping[str, str] = field(default_factory=dict)
    max_bytes: int = 64 * 1024 * 1024
    repo: Path | None = None


@dataclass(frozen=True)
class SourceFormat:
    name: str
    description: str
    detect: Callable[[Path, bytes], bool]
    read: Callable[[Path, ReadOptions], list[TestCaseDocument]]
    suffixes: tuple[str, ...] = ()

    def wants_in_directory(self, path: Path) -> bool:
        """Whether a file found while searching a directory is worth detecting."""
        return path.suffix.lower() in self.suffixes


def read_text(path: Path) -> str:
    """A source file's text (UTF-8, a BOM allowed); a clear error otherwise."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.start}): save the export as UTF-8",
            details={"file": str(path)},
        ) from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}", details={"file": str(path)}) from exc


def read_json(path: Path) -> Any:
    """A JSON source file's content; invalid JSON is refused naming the file and the line."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}, line {exc.lineno}: not valid JSON: {exc.msg}",
            details={"file": str(path), "line": exc.lineno},
        ) from exc


def json_start(path: Path, head: bytes, limit: int) -> bytes:
    """The first ``limit`` bytes of a ``.json`` file's head past a BOM and whitespace, when they open
    an object or an array; else ``b""`` (which no detector's marker is found in)."""
    if path.suffix.lower() != ".json":
        return b""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:limit]
    return start if start.startswith((b"{", b"[")) else b""
