"""Test-case sources. Each module here defines ``SOURCE`` (a :class:`SourceFormat`) and is found by name.

Adding a source (say, Xray Cloud GraphQL exports) is one module with a
``SOURCE = SourceFormat(...)``: ``detect`` says whether a file is of this
format from its name and first bytes, ``read`` turns it into documents.

A ``.zip`` archive is read like a directory of its members (unpacked into a
temporary folder, bounded in size and member count); its documents and errors
name ``archive.zip!member``.
"""

from __future__ import annotations

import copy
import importlib
import json
import pkgutil
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from evidencehub.audit.schemas import TestCaseDocument
from evidencehub.audit.sources.base import ReadOptions, SourceFormat
from evidencehub.errors import InputError

__all__ = ["ReadOptions", "SourceFormat", "read_documents", "renamed", "source_formats"]

HEAD_BYTES = 4096
MAX_ARCHIVE_MEMBERS = 10_000


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
        elif path.exists() or path.suffix.lower() == ".zip":
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
        if path.suffix.lower() == ".zip" and path.is_file():
            documents.extend(_archive_documents(path, options, fmt))
            continue
        source = source_formats()[fmt] if fmt != "auto" else detect(path)
        size = path.stat().st_size
        if size > options.max_bytes:
            raise InputError(
                f"{path}: {size} bytes is more than the {options.max_bytes} allowed (audit.max_file_mb)",
                details={"file": str(path)},
            )
        documents.extend(source.read(path, options))
    return _without_nul(documents)


def _without_nul(documents: list[TestCaseDocument]) -> list[TestCaseDocument]:
    """NUL characters (a JSON export's ``\\u0000``, a stray byte in a text file) mean nothing in a
    test case and cannot be stored in PostgreSQL text: they are dropped."""
    return [
        TestCaseDocument.model_validate(_strip_nul(document.model_dump()))
        if "\\u0000" in document.model_dump_json()
        else document
        for document in documents
    ]


def _strip_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_strip_nul(item) for item in value]
    if isinstance(value, dict):
        return {key: _strip_nul(item) for key, item in value.items()}
    return value


def renamed(documents: Sequence[TestCaseDocument], names: Mapping[str, str]) -> list[TestCaseDocument]:
    """The documents with every path prefix in ``names`` replaced by its display name.

    Applied to the whole document (source, code link, locations), so a
    temporary folder never shows in a report.
    """
    if not names:
        return list(documents)
    ordered = sorted(names.items(), key=lambda item: -len(item[0]))  # longest prefix first
    out = []
    for document in documents:
        text = document.model_dump_json()
        for prefix, name in ordered:
            text = text.replace(json.dumps(prefix)[1:-1], json.dumps(name)[1:-1])
        out.append(TestCaseDocument.model_validate_json(text))
    return out


def renamed_error(error: InputError, names: Mapping[str, str]) -> InputError:
    """The same error with paths shown by their display names (message and details)."""
    message = error.message
    details = json.dumps(error.details)
    for prefix, name in sorted(names.items(), key=lambda item: -len(item[0])):
        message = message.replace(prefix, name)
        details = details.replace(json.dumps(prefix)[1:-1], json.dumps(name)[1:-1])
    shown = copy.copy(error)
    shown.message, shown.details, shown.args = message, json.loads(details), (message,)
    return shown


def _archive_documents(path: Path, options: ReadOptions, fmt: str) -> list[TestCaseDocument]:
    folder = Path(tempfile.mkdtemp(prefix="audit-zip-"))
    try:
        _unpack(path, folder, options.max_bytes)
        names = {f"{folder}/": f"{path}!"}
        try:
            documents = read_documents([folder], options, fmt)
        except InputError as exc:
            raise renamed_error(exc, names) from exc
        return renamed(documents, names)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _unpack(path: Path, folder: Path, max_bytes: int) -> None:
    """Unpack the archive's files under folder: no member outside it, at most ``max_bytes`` in all."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: not a readable zip archive ({exc})", details={"file": str(path)}) from exc
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if len(members) > MAX_ARCHIVE_MEMBERS:
            raise InputError(
                f"{path}: {len(members)} files; an archive may hold at most {MAX_ARCHIVE_MEMBERS}",
                details={"file": str(path)},
            )
        written = 0
        for info in members:
            relative = PurePosixPath(info.filename.replace("\\", "/"))
            if relative.is_absolute() or ".." in relative.parts or not relative.parts:
                raise InputError(
                    f"{path}: member '{info.filename}' points outside the archive",
                    details={"file": str(path)},
                )
            target = folder.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Sizes in the archive's headers can lie: count what is actually unpacked.
            with archive.open(info) as source, target.open("wb") as sink:
                while chunk := source.read(1024 * 1024):
                    written += len(chunk)
                    if written > max_bytes:
                        raise InputError(
                            f"{path}: more than {max_bytes} bytes unpacked (audit.max_file_mb)",
                            details={"file": str(path), "limit_bytes": max_bytes},
                        )
                    sink.write(chunk)
