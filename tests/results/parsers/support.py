"""Parsing documents written by the tests, without touching the disk."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field

from evidencehub.results.inputs import InputSource
from evidencehub.results.parsers import parse_source
from evidencehub.results.parsers.base import ParsedCase, ParsedFile, ParseLimits
from evidencehub.results.status import Status


@dataclass
class Parsed:
    """What one parse produced: the cases in order and the file record."""

    cases: list[ParsedCase]
    file: ParsedFile
    reads: list[int] = field(default_factory=list)

    def case(self, name: str) -> ParsedCase:
        matches = [case for case in self.cases if case.name == name]
        assert len(matches) == 1, f"expected one case named {name!r}, found {len(matches)}"
        return matches[0]

    def statuses(self) -> dict[str, Status]:
        return {case.name: case.status for case in self.cases}


def memory_source(data: bytes, name: str = "results.xml") -> InputSource:
    """An InputSource over bytes in memory (every open starts again at the first byte)."""
    return InputSource(
        name=name,
        size_bytes=len(data),
        _open_raw=lambda: io.BytesIO(data),
        _hash_raw=lambda: hashlib.sha256(data).hexdigest(),
    )


def parse_bytes(
    data: bytes | str,
    *,
    name: str = "results.xml",
    fmt: str = "auto",
    limits: ParseLimits | None = None,
    max_bytes: int = 64 * 1024 * 1024,
) -> Parsed:
    """Parse a document given as bytes (or text, encoded as UTF-8) and collect everything it yields."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    parsed = ParsedFile(source=name)
    reads: list[int] = []
    cases = list(
        parse_source(
            memory_source(raw, name),
            parsed,
            fmt=fmt,
            limits=limits or ParseLimits(),
            max_bytes=max_bytes,
            on_read=reads.append,
        )
    )
    return Parsed(cases, parsed, reads)
