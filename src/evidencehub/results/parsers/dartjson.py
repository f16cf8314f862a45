"""Dart/Flutter ``--reporter json`` (JSON Lines of events).

A test is announced by ``testStart`` and settled by ``testDone``; ``error``
and ``print`` events in between carry its failure and output. Hidden tests
(the "loading …" pseudo-tests and set-up/tear-down-all hooks) are not tests.
``testDone`` result success → passed, failure → failed, error → error;
``skipped: true`` → skipped. A test still open at the end of the file (the run
crashed) counts as an error. The class is the suite's file path.

Only the tests in flight are kept in memory, with their output bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from evidencehub.results.parsers.base import ParsedCase
from evidencehub.results.parsers.context import ParseContext
from evidencehub.results.parsers.jsonfields import integer, mapping, number, text
from evidencehub.results.parsers.jsonlines import JsonLines
from evidencehub.results.parsers.occurrences import Occurrences
from evidencehub.results.parsers.output import OutputBuffer
from evidencehub.results.status import Status

FORMAT = "dart-json"
EVENT_TYPES = frozenset(
    {"start", "suite", "group", "testStart", "testDone", "print", "error", "done", "allSuites", "debug"}
)
_RESULTS = {"success": Status.PASSED, "failure": Status.FAILED, "error": Status.ERROR}


@dataclass(slots=True)
class _Running:
    name: str
    suite: str | None
    line: int | None
    started: float | None
    skip_reason: str | None
    output: OutputBuffer
    errors: list[tuple[str | None, str | None]] = field(default_factory=list)


def parse(ctx: ParseContext, lines: JsonLines) -> Iterator[ParsedCase]:
    """Yield every visible test of a dart JSON report as it finishes."""
    ctx.parsed.format = FORMAT
    suites: dict[int, str] = {}
    running: dict[int, _Running] = {}
    names = Occurrences()
    for number_, event in lines:
        kind = event.get("type")
        if kind == "suite":
            suite = mapping(event.get("suite"))
            suite_id, path = integer(suite.get("id")), text(suite.get("path"))
            if suite_id is not None and path is not None:
                suites[suite_id] = path
        elif kind == "testStart":
            _start(ctx, event, suites, running, number_)
        elif kind in ("print", "error"):
            test = running.get(_id(event.get("testID")))
            if test is not None:
                _note(ctx, test, event, number_)
        elif kind == "testDone":
            test = running.pop(_id(event.get("testID")), None)
            if test is not None and event.get("hidden") is not True:
                yield _done(ctx, test, event, names)
    for test in running.values():
        unfinished = {"result": "error", "time": None}
        test.errors.append(("the test did not finish: the report ends before its testDone event", None))
        yield _done(ctx, test, unfinished, names)


def _id(value: Any) -> int:
    found = integer(value)
    return -1 if found is None else found


def _start(
    ctx: ParseContext, event: dict[str, Any], suites: dict[int, str], running: dict[int, _Running], line: int
) -> None:
    test = mapping(event.get("test"))
    test_id, name = integer(test.get("id")), text(test.get("name"))
    if test_id is None or name is None:
        return
    ctx.field(name, "test name", line)
    metadata = mapping(test.get("metadata"))
    running[test_id] = _Running(
        name=name,
        suite=suites.get(_id(test.get("suiteID"))),
        line=integer(test.get("root_line")) or integer(test.get("line")),
        started=number(event.get("time")),
        skip_reason=text(metadata.get("skipReason")),
        output=OutputBuffer(ctx.limits.max_output_chars),
    )


def _note(ctx: ParseContext, test: _Running, event: dict[str, Any], line: int) -> None:
    if event.get("type") == "print":
        message = text(event.get("message"))
        if message is not None:
            test.output.add(message + "\n")
        return
    test.errors.append(
        (
            ctx.field(text(event.get("error")), "error", line),
            ctx.field(text(event.get("stackTrace")), "stackTrace", line),
        )
    )


def _done(ctx: ParseContext, test: _Running, event: dict[str, Any], names: Occurrences) -> ParsedCase:
    finished = number(event.get("time"))
    duration = finished - test.started if finished is not None and test.started is not None else None
    case = ParsedCase(
        names.name(test.suite, test.name),
        test.suite,
        suite=test.suite,
        file=test.suite,
        line=test.line,
        duration_ms=duration if duration is None or duration >= 0 else None,
        stdout=test.output.text(ctx),
    )
    if event.get("skipped") is True:
        case.add_result(Status.SKIPPED, message=test.skip_reason)
        return case
    status = _RESULTS.get(text(event.get("result")) or "", Status.ERROR)
    if status is not Status.PASSED:
        for message, trace in test.errors or [(None, None)]:
            case.add_result(status, message=message, trace=trace)
    return case
