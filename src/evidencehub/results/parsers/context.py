"""What a format parser is handed: the source, the limits, and the file record it fills."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from evidencehub.results.inputs import InputSource
from evidencehub.results.parsers.base import TRUNCATION_MARK, ParsedFile, ParseLimits, ResultFileError

# A file with a million odd timestamps must not carry a million warnings.
MAX_WARNINGS = 50


@dataclass(slots=True)
class ParseContext:
    """One parse of one source: opens its bytes, bounds its texts and collects its warnings."""

    source: InputSource
    parsed: ParsedFile
    limits: ParseLimits
    max_bytes: int
    on_read: Callable[[int], None] | None = None
    _warned: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return self.source.name

    def open(self, *, report_progress: bool = True) -> BinaryIO:
        """A fresh bounded stream of the decompressed bytes; progress is reported only when asked."""
        on_read = self.on_read if report_progress else None
        return self.source.open(max_bytes=self.max_bytes, on_read=on_read)  # type: ignore[return-value]

    def error(self, reason: str, *, line: int | None = None, field: str | None = None) -> ResultFileError:
        return ResultFileError(self.name, reason, line=line, field=field)

    def field(self, value: str | None, name: str, line: int | None) -> str | None:
        """A message, trace or attribute text, refused when longer than the field limit."""
        if value is not None and len(value) > self.limits.max_field_chars:
            raise self.too_long(name, line, len(value))
        return value

    def too_long(self, name: str, line: int | None, length: int) -> ResultFileError:
        limit = self.limits.max_field_chars
        return self.error(
            f"{name} is {length:,} characters long, more than the limit of {limit:,} "
            "(raise ingest.max_field_kb to accept it)",
            line=line,
            field=name,
        )

    def output(self, value: str | None) -> str | None:
        """stdout/stderr cut to the output limit, with a mark saying how much was cut; blank → None."""
        if value is None:
            return None
        limit = self.limits.max_output_chars
        if len(value) > limit:
            return value[:limit] + TRUNCATION_MARK.format(omitted=len(value) - limit, limit=limit)
        if not value or value.isspace():
            return None
        return value

    def warn(self, message: str) -> None:
        """Record a warning once; after MAX_WARNINGS distinct ones, say that more were dropped."""
        if message in self._warned or len(self._warned) > MAX_WARNINGS:
            return
        self._warned.add(message)
        if len(self._warned) > MAX_WARNINGS:
            self.parsed.warnings.append(f"{self.name}: more warnings were left out")
            return
        self.parsed.warnings.append(f"{self.name}: {message}")
