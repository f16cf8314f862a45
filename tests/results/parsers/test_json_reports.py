"""JSON reporters: mocha, rspec, dart (JSON lines) and go test -json."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from evidencehub.results.parsers.base import TRUNCATION_MARK, ParseLimits, ResultFileError
from evidencehub.results.status import Status
from tests.results.parsers.support import parse_bytes

UTC = dt.UTC


def _lines(*events: dict[str, Any]) -> str:
    return "\n".join(json.dumps(event) for event in events) + "\n"


def test_mocha_json_failures_errors_pending_and_repeated_titles() -> None:
    report = {
        "stats": {
            "tests": 5,
            "passes": 1,
            "pending": 1,
            "failures": 2,
            "start": "2021-02-24T20:26:09.297Z",
            "end": "2021-02-24T20:26:09.309Z",
        },
        "tests": [
            {
                "title": "works",
                "fullTitle": "Calc works",
                "file": "/w/calc.spec.js",
                "duration": 3,
                "err": {},
            },
            {
                "title": "asserts",
                "fullTitle": "Calc asserts",
                "file": "/w/calc.spec.js",
                "duration": 1,
                "err": {
                    "name": "AssertionError",
                    "message": "expected 1",
                    "stack": "AssertionError: expected 1\n at x",
                },
            },
            {
                "title": "throws",
                "fullTitle": "Calc throws",
                "file": "/w/calc.spec.js",
                "err": {"name": "TypeError", "message": "undefined", "stack": "TypeError"},
            },
            {"title": "times out", "fullTitle": "Calc times out", "err": {"message": "Timeout of 2000ms"}},
            {"title": "later", "fullTitle": "Calc later", "file": "/w/calc.spec.js", "err": {}},
            {
                "title": "works",
                "fullTitle": "Calc works",
                "file": "/w/calc.spec.js",
                "duration": 2,
                "err": {},
            },
        ],
        "pending": [{"title": "later", "fullTitle": "Calc later", "file": "/w/calc.spec.js", "err": {}}],
        "failures": [],
        "passes": [],
    }
    parsed = parse_bytes(json.dumps(report), name="mocha.json")
    assert parsed.file.format == "mocha-json"
    assert [(case.name, case.status) for case in parsed.cases] == [
        ("Calc works", Status.PASSED),
        ("Calc asserts", Status.FAILED),
        ("Calc throws", Status.ERROR),  # not an assertion: an exception the test did not expect
        ("Calc times out", Status.FAILED),
        ("Calc later", Status.SKIPPED),
        ("Calc works (2)", Status.PASSED),  # a second test with the same title is another test, not a retry
    ]
    asserts = parsed.case("Calc asserts")
    assert (asserts.failure_type, asserts.message, asserts.file) == (
        "AssertionError",
        "expected 1",
        "/w/calc.spec.js",
    )
    assert parsed.case("Calc works").duration_ms == 3.0
    assert parsed.file.started_at == dt.datetime(2021, 2, 24, 20, 26, 9, 297000, tzinfo=UTC)
    declared = parsed.file.declared
    assert declared is not None
    assert (declared.tests, declared.failures, declared.skipped) == (5, 2, 1)


def test_rspec_json_examples() -> None:
    report = {
        "version": "3.13.0",
        "examples": [
            {
                "id": "./spec/a_spec.rb[1:1]",
                "description": "passes",
                "full_description": "A passes",
                "status": "passed",
                "file_path": "./spec/a_spec.rb",
                "line_number": 3,
                "run_time": 0.5,
            },
            {
                "id": "./spec/a_spec.rb[1:2]",
                "full_description": "A expects",
                "status": "failed",
                "file_path": "./spec/a_spec.rb",
                "line_number": 7,
                "run_time": 0.001,
                "exception": {
                    "class": "RSpec::Expectations::ExpectationNotMetError",
                    "message": "expected 2",
                    "backtrace": ["./spec/a_spec.rb:8", "./lib/a.rb:3"],
                },
            },
            {
                "id": "./spec/a_spec.rb[1:3]",
                "full_description": "A crashes",
                "status": "failed",
                "file_path": "./spec/a_spec.rb",
                "exception": {"class": "NoMethodError", "message": "undefined x"},
            },
            {
                "id": "./spec/a_spec.rb[1:4]",
                "full_description": "A waits",
                "status": "pending",
                "file_path": "./spec/a_spec.rb",
                "pending_message": "Temporarily skipped with xit",
            },
        ],
        "summary": {
            "duration": 0.2,
            "example_count": 4,
            "failure_count": 2,
            "pending_count": 1,
            "errors_outside_of_examples_count": 0,
        },
    }
    parsed = parse_bytes(json.dumps(report, indent=2), name="rspec.json")
    assert parsed.file.format == "rspec-json"
    assert [(case.classname, case.name, case.status) for case in parsed.cases] == [
        ("./spec/a_spec.rb", "A passes", Status.PASSED),
        ("./spec/a_spec.rb", "A expects", Status.FAILED),
        ("./spec/a_spec.rb", "A crashes", Status.ERROR),
        ("./spec/a_spec.rb", "A waits", Status.SKIPPED),
    ]
    expects = parsed.case("A expects")
    assert (expects.trace, expects.line, expects.duration_ms) == ("./spec/a_spec.rb:8\n./lib/a.rb:3", 7, 1.0)
    assert parsed.case("A waits").message == "Temporarily skipped with xit"
    assert parsed.file.declared is not None and parsed.file.declared.tests == 4


def test_dart_json_lines() -> None:
    report = _lines(
        {"protocolVersion": "0.1.1", "runnerVersion": "1.23.1", "type": "start", "time": 0},
        {"suite": {"id": 0, "platform": "vm", "path": "test/calc_test.dart"}, "type": "suite", "time": 0},
        {
            "test": {
                "id": 1,
                "name": "loading test/calc_test.dart",
                "suiteID": 0,
                "groupIDs": [],
                "metadata": {"skip": False},
            },
            "type": "testStart",
            "time": 2,
        },
        {"testID": 1, "result": "success", "skipped": False, "hidden": True, "type": "testDone", "time": 90},
        {
            "test": {"id": 2, "name": "calc adds", "suiteID": 0, "line": 14, "metadata": {"skip": False}},
            "type": "testStart",
            "time": 100,
        },
        {
            "test": {
                "id": 3,
                "name": "calc skips",
                "suiteID": 0,
                "metadata": {"skip": True, "skipReason": "later"},
            },
            "type": "testStart",
            "time": 101,
        },
        {"testID": 2, "messageType": "print", "message": "adding", "type": "print", "time": 102},
        {"testID": 3, "result": "success", "skipped": True, "hidden": False, "type": "testDone", "time": 103},
        {
            "testID": 2,
            "error": "Expected: 3",
            "stackTrace": "calc_test.dart 22:7",
            "isFailure": True,
            "type": "error",
            "time": 104,
        },
        {
            "testID": 2,
            "result": "failure",
            "skipped": False,
            "hidden": False,
            "type": "testDone",
            "time": 110,
        },
        {
            "test": {"id": 4, "name": "calc throws", "suiteID": 0, "metadata": {}},
            "type": "testStart",
            "time": 111,
        },
        {
            "testID": 4,
            "error": "Exception: boom",
            "stackTrace": "x",
            "isFailure": False,
            "type": "error",
            "time": 112,
        },
        {"testID": 4, "result": "error", "skipped": False, "hidden": False, "type": "testDone", "time": 113},
        {
            "test": {"id": 5, "name": "calc hangs", "suiteID": 0, "metadata": {}},
            "type": "testStart",
            "time": 120,
        },
    )
    parsed = parse_bytes(report, name="dart.json")
    assert parsed.file.format == "dart-json"
    assert [(case.classname, case.name, case.status) for case in parsed.cases] == [
        ("test/calc_test.dart", "calc skips", Status.SKIPPED),
        ("test/calc_test.dart", "calc adds", Status.FAILED),
        ("test/calc_test.dart", "calc throws", Status.ERROR),
        ("test/calc_test.dart", "calc hangs", Status.ERROR),  # never finished: the run broke off
    ]
    adds = parsed.case("calc adds")
    assert (adds.message, adds.trace, adds.stdout) == ("Expected: 3", "calc_test.dart 22:7", "adding\n")
    assert (adds.duration_ms, adds.line) == (10.0, 14)
    assert parsed.case("calc skips").message == "later"
    assert "did not finish" in (parsed.case("calc hangs").message or "")


def test_go_test_json_with_subtests_skips_and_a_build_failure() -> None:
    package = "example.com/calc"

    def event(action: str, test: str | None = None, **extra: Any) -> dict[str, Any]:
        data: dict[str, Any] = {"Time": "2025-04-22T08:59:55.36-05:00", "Action": action, "Package": package}
        if test is not None:
            data["Test"] = test
        return data | extra

    report = _lines(
        event("start"),
        event("run", "TestAdd"),
        event("output", "TestAdd", Output="=== RUN   TestAdd\n"),
        event("output", "TestAdd", Output="--- PASS: TestAdd (0.06s)\n"),
        event("pass", "TestAdd", Elapsed=0.06),
        event("run", "TestCases"),
        event("run", "TestCases/1_+_2"),
        event("output", "TestCases/1_+_2", Output="    calc_test.go:19: expected 3, got 2\n"),
        event("fail", "TestCases/1_+_2", Elapsed=0.01),
        event("fail", "TestCases", Elapsed=0.02),
        event("run", "TestSkip"),
        event("output", "TestSkip", Output="    calc_test.go:40: not on this OS\n"),
        event("skip", "TestSkip", Elapsed=0),
        event("run", "TestAdd"),
        event("fail", "TestAdd", Elapsed=0.01),  # -count=2: the same test again
        event("fail", Elapsed=0.2),
        {"Action": "fail", "Package": "example.com/broken", "Elapsed": 0},
    )
    parsed = parse_bytes(report, name="go.json")
    assert parsed.file.format == "go-test-json"
    assert [(case.module, case.name, case.status) for case in parsed.cases] == [
        (package, "TestAdd", Status.PASSED),
        (package, "TestCases/1_+_2", Status.FAILED),
        (package, "TestCases", Status.FAILED),
        (package, "TestSkip", Status.SKIPPED),
        (package, "TestAdd", Status.FAILED),
    ]
    sub = parsed.case("TestCases/1_+_2")
    assert (sub.message, sub.duration_ms) == ("calc_test.go:19: expected 3, got 2", 10.0)
    assert sub.trace == "    calc_test.go:19: expected 3, got 2\n"
    assert parsed.cases[0].stdout == "=== RUN   TestAdd\n--- PASS: TestAdd (0.06s)\n"
    assert parsed.case("TestSkip").message == "calc_test.go:40: not on this OS"
    assert parsed.cases[0].started_at == dt.datetime(2025, 4, 22, 13, 59, 55, 360000, tzinfo=UTC)
    assert [w for w in parsed.file.warnings if "failed outside any test" in w] == [
        "go.json: package example.com/broken failed outside any test (build error or TestMain)"
    ]


def test_go_test_output_is_cut_to_the_output_limit() -> None:
    chunks = [{"Action": "run", "Package": "p", "Test": "TestLoud"}]
    chunks += [{"Action": "output", "Package": "p", "Test": "TestLoud", "Output": "0123456789"}] * 5
    chunks += [{"Action": "pass", "Package": "p", "Test": "TestLoud"}]
    parsed = parse_bytes(_lines(*chunks), limits=ParseLimits(max_output_chars=25))
    assert parsed.cases[0].stdout == "0123456789012345678901234" + TRUNCATION_MARK.format(
        omitted=25, limit=25
    )


@pytest.mark.parametrize(
    ("content", "reason", "line"),
    [
        ('{"Action": "run", "Package": "p", "Test": "T"}\n{"Action": broken}\n', "not valid JSON", 2),
        ('{"Action": "run", "Package": "p", "Test": "T"}\n[1]\n', "expected one JSON object per line", 2),
        ('{"stats": {}, "tests": [}', "not valid JSON", 1),
    ],
)
def test_malformed_json_names_the_line(content: str, reason: str, line: int) -> None:
    with pytest.raises(ResultFileError) as caught:
        parse_bytes(content, name="bad.json")
    assert reason in caught.value.reason
    assert caught.value.line == line


def test_an_overlong_json_line_is_refused() -> None:
    limits = ParseLimits(max_field_chars=10, max_output_chars=10)
    long_line = json.dumps({"Action": "output", "Package": "p", "Test": "T", "Output": "x" * 200_000})
    content = '{"Action": "run", "Package": "p", "Test": "T"}\n' + long_line + "\n"
    with pytest.raises(ResultFileError, match="a line is longer than the limit") as caught:
        parse_bytes(content, limits=limits)
    assert caught.value.line == 2
