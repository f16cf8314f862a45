"""Property tests: any well-formed JUnit document round-trips; any bytes at all fail only cleanly."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidencehub.results.parsers import FORMAT_CHOICES
from evidencehub.results.parsers.base import ParsedCase, ParseLimits, ResultFileError
from evidencehub.results.status import Status
from tests.results.parsers.support import parse_bytes

# Characters XML 1.0 allows, including astral ones; the serializer escapes what needs escaping.
_XML_CHARACTERS = st.sampled_from("\t\n\r") | st.characters(
    min_codepoint=0x20, exclude_categories=["Cs"], exclude_characters="\ufffe\uffff"
)
_TEXT = st.text(_XML_CHARACTERS, max_size=12)
_NAME = st.text(_XML_CHARACTERS, min_size=1, max_size=12)
_TIME = st.integers(min_value=0, max_value=10**9).map(lambda millis: f"{millis / 1000:.3f}")


@dataclass
class Case:
    classname: str
    name: str
    status: Status
    time: str | None
    message: str
    detail: str
    stdout: str
    properties: dict[str, str]


@dataclass
class Suite:
    name: str
    cases: list[Case]
    children: list[Suite] = field(default_factory=list)


_CASES = st.builds(
    Case,
    classname=_TEXT,
    name=_NAME,
    status=st.sampled_from(list(Status)),
    time=st.none() | _TIME,
    message=_TEXT,
    detail=_TEXT,
    stdout=_TEXT,
    properties=st.dictionaries(_NAME, _TEXT, max_size=3),
)
_SUITES = st.recursive(
    st.builds(Suite, name=_NAME, cases=st.lists(_CASES, max_size=6)),
    lambda children: st.builds(
        Suite, name=_NAME, cases=st.lists(_CASES, max_size=4), children=st.lists(children, max_size=3)
    ),
    max_leaves=5,
)


def _text(value: str) -> str:
    # Carriage returns would be normalised to line feeds by any XML parser unless written as references.
    return escape(value, {"\r": "&#13;"})


def _case_xml(case: Case) -> str:
    attributes = f"classname={quoteattr(case.classname)} name={quoteattr(case.name)}"
    if case.time is not None:
        attributes += f' time="{case.time}"'
    body = ""
    if case.properties:
        items = "".join(
            f"<property name={quoteattr(key)} value={quoteattr(value)}/>"
            for key, value in case.properties.items()
        )
        body += f"<properties>{items}</properties>"
    if case.status is not Status.PASSED:
        tag = {Status.FAILED: "failure", Status.ERROR: "error", Status.SKIPPED: "skipped"}[case.status]
        body += f"<{tag} message={quoteattr(case.message)}>{_text(case.detail)}</{tag}>"
    body += f"<system-out>{_text(case.stdout)}</system-out>"
    return f"<testcase {attributes}>{body}</testcase>"


def _suite_xml(suite: Suite) -> str:
    inner = "".join(_case_xml(case) for case in suite.cases) + "".join(
        _suite_xml(child) for child in suite.children
    )
    return f"<testsuite name={quoteattr(suite.name)}>{inner}</testsuite>"


def _expected(suite: Suite) -> list[tuple[str, str, str, Status]]:
    """(suite, classname, name, status) in document order: a suite's cases before its nested suites'."""
    rows = [(suite.name, case.classname or suite.name, case.name, case.status) for case in suite.cases]
    for child in suite.children:
        rows.extend(_expected(child))
    return rows


def _all_cases(suite: Suite) -> list[Case]:
    return [*suite.cases, *(case for child in suite.children for case in _all_cases(child))]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suites=st.lists(_SUITES, min_size=0, max_size=3), encoding=st.sampled_from(["utf-8", "utf-16"]))
def test_generated_junit_round_trips(suites: list[Suite], encoding: str) -> None:
    body = "".join(map(_suite_xml, suites))
    document = f'<?xml version="1.0" encoding="{encoding}"?><testsuites>{body}</testsuites>'
    parsed = parse_bytes(document.encode(encoding))

    expected = [row for suite in suites for row in _expected(suite)]
    assert [(case.suite, case.classname, case.name, case.status) for case in parsed.cases] == expected
    originals = [case for suite in suites for case in _all_cases(suite)]
    for got, want in zip(parsed.cases, originals, strict=True):
        assert got.duration_ms == (None if want.time is None else pytest.approx(float(want.time) * 1000))
        assert got.stdout == (want.stdout if want.stdout.strip() else None)
        assert got.properties == (want.properties or None)
        if want.status is Status.PASSED:
            assert (got.message, got.trace) == (None, None)
        else:
            assert got.message == want.message
            assert got.trace == (want.detail or None)


def _parse_or_error(data: bytes, fmt: str) -> list[ParsedCase] | ResultFileError:
    """The cases, or the ResultFileError; any other exception escapes and fails the test."""
    try:
        return parse_bytes(data, fmt=fmt, limits=ParseLimits(max_depth=16)).cases
    except ResultFileError as error:
        return error


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=400), fmt=st.sampled_from(FORMAT_CHOICES))
def test_arbitrary_bytes_fail_only_with_a_result_file_error(data: bytes, fmt: str) -> None:
    outcome = _parse_or_error(data, fmt)
    if isinstance(outcome, ResultFileError):
        assert str(outcome).startswith("results.xml")
        assert outcome.reason
    else:
        assert all(case.name for case in outcome)


_FRAGMENTS = st.sampled_from(
    [
        "<testsuites>",
        "</testsuites>",
        '<testsuite name="s">',
        "</testsuite>",
        '<testcase classname="c" name="t">',
        "<testcase/>",
        "</testcase>",
        "<failure>",
        "</failure>",
        "<![CDATA[x]]>",
        "<!-- c -->",
        "&amp;",
        "&bogus;",
        '<!DOCTYPE t [<!ENTITY e "v">]>',
        "&e;",
        "\x00",
        "\ufeff",
        "<properties>",
        "<property name='p'/>",
        "<test-run>",
        "<test-case name='a.b'/>",
        "<assemblies>",
        "<TestRun>",
        "<UnitTestResult testName='x'/>",
        '{"stats": {}, "tests": [',
        '{"Action": "run", "Test": "T"}\n',
        "]}",
        '"',
        "\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(_FRAGMENTS, max_size=25))
def test_plausible_garbage_fails_only_with_a_result_file_error(pieces: list[str]) -> None:
    outcome = _parse_or_error("".join(pieces).encode(), "auto")
    assert not isinstance(outcome, ResultFileError) or outcome.reason
