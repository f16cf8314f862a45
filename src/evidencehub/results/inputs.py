"""Turning what the user named (files, directories, globs, .gz, .zip) into byte streams.

Every stream is bounded: reading past ``max_bytes`` (after decompression) raises
an InputError naming the file, so a gzip or zip bomb cannot exhaust memory or disk.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from evidencehub.errors import InputError

# What a directory contributes when it is named: result files by their usual endings.
RESULT_SUFFIXES = (".xml", ".trx", ".json", ".jsonl", ".xml.gz", ".trx.gz", ".json.gz", ".zip")
_HASH_CHUNK = 1024 * 1024


class BoundedReader(io.RawIOBase):
    """A read-only stream that counts bytes and refuses to go past a limit."""

    def __init__(
        self, inner: BinaryIO, *, limit: int, source: str, on_read: Callable[[int], None] | None
    ) -> None:
        super().__init__()
        self._inner = inner
        self._limit = limit
        self._source = source
        self._on_read = on_read
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        count = len(data)
        self.bytes_read += count
        if self.bytes_read > self._limit:
            raise InputError(
                f"{self._source}: larger than the limit of {self._limit // (1024 * 1024)} MB "
                "(after decompression); raise ingest.max_file_mb to accept it",
                details={"file": self._source, "limit_bytes": self._limit},
            )
        buffer[:count] = data
        if self._on_read is not None and count:
            self._on_read(count)
        return count

    def read(self, size: int = -1) -> bytes:
        # lxml and json call read(n); serve it straight from the inner stream.
        if size is None or size < 0:
            return self.readall()
        buffer = bytearray(size)
        count = self.readinto(buffer)
        return bytes(buffer[:count])

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


@dataclass(frozen=True)
class InputSource:
    """One result file: a path, or a member of a zip archive."""

    name: str  # what messages show: the path, or "archive.zip!member"
    size_bytes: int  # stored (possibly compressed) size, for progress
    _open_raw: Callable[[], BinaryIO]
    _hash_raw: Callable[[], str]
    compressed: bool = False

    def open(self, *, max_bytes: int, on_read: Callable[[int], None] | None = None) -> BoundedReader:
        """A fresh decompressed stream of the file's bytes, bounded by max_bytes.

        ``on_read`` receives how many stored bytes were consumed, for progress bars.
        """
        raw = self._open_raw()
        if not self.compressed:
            return BoundedReader(raw, limit=max_bytes, source=self.name, on_read=on_read)
        counting = BoundedReader(raw, limit=2**62, source=self.name, on_read=on_read)
        decompressed = gzip.GzipFile(fileobj=io.BufferedReader(counting), mode="rb")
        return BoundedReader(decompressed, limit=max_bytes, source=self.name, on_read=None)  # type: ignore[arg-type]

    def open_stored(self) -> BinaryIO:
        """The file's bytes as stored (still compressed when it is): what the checksum covers."""
        return self._open_raw()

    def sha256(self) -> str:
        """Checksum of the stored bytes (re-ingesting the same file is detected by it)."""
        return self._hash_raw()


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _file_source(path: Path) -> InputSource:
    return InputSource(
        name=str(path),
        size_bytes=path.stat().st_size,
        _open_raw=lambda: path.open("rb"),
        _hash_raw=lambda: _hash_file(path),
        compressed=path.name.endswith(".gz"),
    )


def _zip_sources(path: Path) -> Iterator[InputSource]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{path}: not a readable zip archive ({exc})", details={"file": str(path)}) from exc
    with archive:
        members = [
            info for info in archive.infolist() if not info.is_dir() and _is_result_name(info.filename)
        ]
    for info in sorted(members, key=lambda item: item.filename):
        yield _zip_member_source(path, info)


def _zip_member_source(path: Path, info: zipfile.ZipInfo) -> InputSource:
    def open_member() -> BinaryIO:
        archive = zipfile.ZipFile(path)
        member = archive.open(info)
        return _ClosingMember(member, archive)  # type: ignore[arg-type,return-value]

    def hash_member() -> str:
        digest = hashlib.sha256()
        with zipfile.ZipFile(path) as archive, archive.open(info) as member:
            while chunk := member.read(_HASH_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    return InputSource(
        name=f"{path}!{info.filename}",
        size_bytes=info.compress_size,
        _open_raw=open_member,
        _hash_raw=hash_member,
        compressed=info.filename.endswith(".gz"),
    )


class _ClosingMember(io.RawIOBase):
    """A zip member stream that also closes its archive."""

    def __init__(self, member: BinaryIO, archive: zipfile.ZipFile) -> None:
        super().__init__()
        self._member = member
        self._archive = archive

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._member.read(size)

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._member.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._member.close()
            self._archive.close()
        finally:
            super().close()


def _is_result_name(name: str) -> bool:
    lowered = name.lower()
    return lowered.endswith(RESULT_SUFFIXES) and not lowered.endswith(".zip.gz")


def _expand_one(argument: str) -> list[Path]:
    path = Path(argument)
    if path.is_dir():
        found = [
            Path(root) / name
            for root, _dirs, names in os.walk(path)
            for name in names
            if _is_result_name(name)
        ]
        return sorted(found)
    if path.is_file():
        return [path]
    if glob.has_magic(argument):
        matches = sorted(Path(match) for match in glob.glob(argument, recursive=True))
        files = [match for match in matches if match.is_file()]
        if files:
            return files
        raise InputError(f"{argument}: the pattern matches no files", details={"path": argument})
    raise InputError(f"{argument}: no such file or directory", details={"path": argument})


def expand_inputs(arguments: Iterable[str]) -> list[InputSource]:
    """Every result file named by the arguments, in a stable order, each once.

    Raises InputError when an argument names nothing, so a typo never ingests
    an empty run silently.
    """
    sources: list[InputSource] = []
    seen: set[Path] = set()
    for argument in arguments:
        for path in _expand_one(argument):
            resolved = path.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            if path.name.lower().endswith(".zip"):
                sources.extend(_zip_sources(path))
            else:
                sources.append(_file_source(path))
    if not sources:
        raise InputError(
            "no result files found in " + ", ".join(map(str, arguments)),
            details={"paths": list(map(str, arguments))},
        )
    return sources
