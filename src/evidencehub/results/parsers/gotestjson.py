"""``go test -json`` (test2json events, one JSON object per line).

Every ``pass``/``fail``/``skip`` event with a ``Test`` is a test, subtests
(``TestA/case``) included; ``module`` is the Go package. A failed or skipped
test's output becomes its trace, and the first ``file_test.go:NN: …`` line its
message. A package that fails outside any test (a build error, a panic in
``TestMain``) is reported as a warning. Tests repeated with ``-count`` come out
as repeated results, which ingest folds as reruns.

Only the tests in flight are kept, with their output bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from evidencehub.results.parsers import values
from evidencehub.results.parsers.base import ParsedCase
from evidencehub.results.parsers.context import ParseContext
from evidencehub.results.parsers.jsonfields import number, text
from evidencehub.results.parsers.jsonlines import JsonLines
from evidencehub.results.parsers.output import OutputBuffer
from evidencehub.results.status import Status

FORMAT = "go-test-json"
_RESULTS = {"pass": Status.PASSED, "fail": Status.FAILED, "skip": Status.SKIPPED}


@dataclass(slots=True)
class _Running:
    started: Any
    output: OutputBuffer


def parse(ctx: ParseContext, lines: JsonLines) -> Iterator[ParsedCase]:
    """Yield every test of a ``go test -json`` stream as it finishes."""
    ctx.parsed.format = FORMAT
    running: dict[tuple[str | None, str], _Running] = {}
    failed_packages: set[str | None] = set()
    for line, event in lines:
        action = event.get("Action")
        package, test = text(event.get("Package")), text(event.get("Test"))
        at = values.timestamp(text(event.get("Time")))
        ctx.parsed.saw_time_span(at, at)
        if test is None:
            if action == "fail" and package not in failed_packages:
                ctx.warn(f"package {package or '?'} failed outside any test (build error or TestMain)")
            continue
        key = (package, test)
        if action == "run":
            running[key] = _Running(at, OutputBuffer(ctx.limits.max_output_chars))
        elif action == "output":
            state = running.get(key)
            if state is None:
                state = running[key] = _Running(None, OutputBuffer(ctx.limits.max_output_chars))
            output = text(event.get("Output"))
            if output is not None:
                state.output.add(output)
        elif action in _RESULTS:
            state = running.pop(key, None) or _Running(None, OutputBuffer(ctx.limits.max_output_chars))
            if action == "fail":
                failed_packages.add(package)
            yield _case(ctx, package, test, _RESULTS[str(action)], state, event, line)


def _case(
    ctx: ParseContext,
    package: str | None,
    test: str,
    status: Status,
    state: _Running,
    event: dict[str, Any],
    line: int,
) -> ParsedCase:
    ctx.field(test, "Test", line)
    elapsed = number(event.get("Elapsed"))
    case = ParsedCase(
        test,
        None,
        package,
        suite=package,
        duration_ms=elapsed * 1000.0 if elapsed is not None else None,
        started_at=state.started,
    )
    output = state.output.text(ctx)
    if status is Status.PASSED:
        case.stdout = output
        return case
    case.add_result(status, message=_message(state.output.lines()), trace=output)
    return case


def _message(lines: list[str]) -> str | None:
    """The first ``file.go:NN: …`` or ``panic:`` line of a test's output."""
    for line in lines:
        stripped = line.strip()
        head = stripped.split(":", 1)[0]
        if head.endswith(".go") or stripped.startswith("panic:"):
            return stripped
    return None
