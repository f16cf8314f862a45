"""Test-case sources. Each module here defines ``SOURCE`` (a :class:`SourceFormat`) and is found by name.

Adding a source (say, Xray Cloud GraphQL exports) is one module with a
``SOURCE = SourceFormat(...)``: ``detect`` says whether a file is of this
format from its name and first bytes, ``read`` turns it into documents.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path

from evidencehub.audit.schemas import TestCaseDocument
from evidencehub.audit.sources.base import ReadOptions, SourceFormat
from evidencehub.errors import InputError

__all__ = ["ReadOptions", "SourceFormat", "read_documents", "source_formats"]

HEAD_BYTES = 4096


@cache
def source_formats() -> dict[str, SourceFormat]:
    """Every source module's SOURCE, by name, in module order."""
    formats: dict[str, SourceFormat] = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        if module_info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        source = getattr(module, "SOURCE", None)
        if isinstance(source, SourceFormat):
            formats[source.name] = source
    return formats


def _candidates(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from (
                child
                for child in sorted(path.rglob("*"))
                if child.is_file()
                and not any(part.startswith(".") or part == "__pycache__" for part in child.parts)
                and any(source.wants_in_directory(child) for source in source_formats().values())
            )
        elif path.exists():
            yield path
        else:
            raise InputError(f"{path}: no such file or directory", details={"file": str(path)})


def detect(path: Path) -> SourceFormat:
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
    for source in source_formats().values():
        if source.detect(path, head):
            return source
    known = ", ".join(source_formats())
    raise InputError(
        f"{path}: not a test-case source evidencehub reads (known: {known})",
        details={"file": str(path), "known": list(source_formats())},
    )


def read_documents(paths: Sequence[Path], options: ReadOptions, fmt: str = "auto") -> list[TestCaseDocument]:
    """Every test case in the files (directories are searched), in input order."""
    if fmt != "auto" and fmt not in source_formats():
        raise InputError(
            f"unknown source format '{fmt}'; known: auto, {', '.join(source_formats())}",
            details={"parameter": "source_format"},
        )
    documents: list[TestCaseDocument] = []
    for path in _candidates(paths):
        source = source_formats()[fmt] if fmt != "auto" else detect(path)
        size = path.stat().st_size
        if size > options.max_bytes:
            raise InputError(
                f"{path}: {size} bytes is more than the {options.max_bytes} allowed (audit.max_file_mb)",
                details={"file": str(path)},
            )
        documents.extend(source.read(path, options))
    return documents
