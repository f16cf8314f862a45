"""What every result-file parser produces, and the limits it must enforce.

A parser reads one byte stream and yields ParsedCase objects one at a time, so
a file of any size is parsed in constant memory. It records file-level facts
(format, earliest start, latest end, declared totals) on the ParsedFile it is
given as it goes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from evidencehub.config import IngestSettings
from evidencehub.errors import InputError
from evidencehub.results.status import SEVERITY, Status

TRUNCATION_MARK = "\n… [evidencehub: {omitted} more characters cut off; limit {limit}]"


class ResultFileError(InputError):
    """A result file could not be parsed; names the file, the line and the reason."""

    def __init__(
        self, source: str, reason: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        where = f"{source}, line {line}" if line else source
        if field:
            where = f"{where}, {field}"
        super().__init__(
            f"{where}: {reason}",
            details={"file": source, "line": line, "field": field, "reason": reason},
        )
        self.source = source
        self.line = line
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Bounds that protect the process from hostile or broken input."""

    max_depth: int = 64
    max_field_chars: int = 1024 * 1024
    max_output_chars: int = 64 * 1024

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> ParseLimits:
        return cls(
            max_depth=settings.max_depth,
            max_field_chars=settings.max_field_kb * 1024,
            max_output_chars=settings.max_output_kb * 1024,
        )


@dataclass(slots=True)
class Attempt:
    """A result of the same test other than the one that counts.

    kind is ``rerun`` (a failed rerun: Surefire ``rerunFailure``/``rerunError``, or
    a repeated testcase), ``flaky`` (a failure before a pass: ``flakyFailure``/
    ``flakyError``) or ``extra`` (another result element inside one testcase).
    """

    status: Status
    kind: str
    failure_type: str | None = None
    message: str | None = None
    trace: str | None = None
    duration_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status.value, "kind": self.kind}
        for name in ("failure_type", "message", "trace", "duration_ms"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attempt:
        return cls(
            status=Status(data["status"]),
            kind=data["kind"],
            failure_type=data.get("failure_type"),
            message=data.get("message"),
            trace=data.get("trace"),
            duration_ms=data.get("duration_ms"),
        )


@dataclass(slots=True)
class ParsedCase:
    """One test's result as read from a file.

    Identity: ``module`` (assembly, Go package, …; empty for plain JUnit),
    ``classname`` and ``name``. ``suite`` is the innermost suite name and is
    informational only.
    """

    name: str
    classname: str | None = None
    module: str | None = None
    suite: str | None = None
    file: str | None = None
    line: int | None = None
    status: Status = Status.PASSED
    duration_ms: float | None = None
    started_at: dt.datetime | None = None
    failure_type: str | None = None
    message: str | None = None
    trace: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    properties: dict[str, str] | None = None
    attempts: list[Attempt] | None = None
    flaky: bool = False

    def add_result(
        self,
        status: Status,
        *,
        failure_type: str | None = None,
        message: str | None = None,
        trace: str | None = None,
        kind: str = "extra",
    ) -> None:
        """Record one more result for this case: the most severe counts, the others become attempts."""
        if self.status is Status.PASSED and self.attempts is None:
            if status is not Status.PASSED:
                self.status, self.failure_type, self.message, self.trace = (
                    status,
                    failure_type,
                    message,
                    trace,
                )
            return
        incoming = Attempt(status, kind, failure_type, message, trace)
        if SEVERITY[status] > SEVERITY[self.status]:
            demoted = Attempt(self.status, kind, self.failure_type, self.message, self.trace)
            self.status, self.failure_type, self.message, self.trace = status, failure_type, message, trace
            incoming = demoted
        if self.attempts is None:
            self.attempts = []
        self.attempts.append(incoming)


@dataclass(slots=True)
class DeclaredTotals:
    """Totals a file declares about itself (summed over its top-level suites)."""

    tests: int = 0
    failures: int = 0
    errors: int = 0
    skipped: int = 0


@dataclass(slots=True)
class ParsedFile:
    """File-level facts, filled in by the parser while it yields cases."""

    source: str
    format: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    declared: DeclaredTotals | None = None
    hostname: str | None = None
    warnings: list[str] = field(default_factory=list)

    def saw_time_span(self, start: dt.datetime | None, end: dt.datetime | None) -> None:
        if start is not None and (self.started_at is None or start < self.started_at):
            self.started_at = start
        if end is not None and (self.finished_at is None or end > self.finished_at):
            self.finished_at = end
