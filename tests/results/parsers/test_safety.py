"""Hostile and broken input: entities, depth, sizes, encodings, garbage: clear errors or safe results."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest

from evidencehub.errors import InputError
from evidencehub.results.inputs import expand_inputs
from evidencehub.results.parsers import FORMAT_CHOICES, parse_source
from evidencehub.results.parsers.base import ParsedCase, ParsedFile, ParseLimits, ResultFileError
from evidencehub.results.status import Status
from tests.results.parsers.support import parse_bytes

SECRET = "TOP-SECRET-7f3a"


def _texts(cases: list[ParsedCase]) -> str:
    parts: list[str] = []
    for case in cases:
        parts.extend(
            str(value) for value in (case.name, case.classname, case.message, case.trace, case.stdout)
        )
        parts.extend(f"{key}={value}" for key, value in (case.properties or {}).items())
    return "\n".join(parts)


def _parse_or_error(document: str) -> tuple[list[ParsedCase] | None, ResultFileError | None]:
    try:
        return parse_bytes(document).cases, None
    except ResultFileError as error:
        return None, error


@pytest.mark.parametrize(
    "template",
    [
        # An external entity in element content, in JUnit and in NUnit 2 (the corpus's sec1752 shape).
        '<!DOCTYPE t [<!ENTITY xxe SYSTEM "{url}">]><testsuite name="s"><testcase classname="c" name="t">'
        '<failure message="m">&xxe;</failure></testcase></testsuite>',
        '<!DOCTYPE t [<!ENTITY xxe SYSTEM "{url}">]>'
        '<test-results name="T.dll"><test-suite name="T.dll"><results>'
        '<test-case name="N.C.T" executed="True" success="False"><failure><message>&xxe;</message></failure>'
        "</test-case></results></test-suite></test-results>",
        # ... in an attribute value.
        '<!DOCTYPE t [<!ENTITY xxe SYSTEM "{url}">]>'
        '<testsuite name="s"><testcase classname="c" name="&xxe;"/>'
        "</testsuite>",
        # An external DTD that would define the entity, and a parameter entity pulling it in.
        '<!DOCTYPE t SYSTEM "{dtd}"><testsuite name="s"><testcase classname="c" name="t">'
        "<system-out>&xxe;</system-out></testcase></testsuite>",
        '<!DOCTYPE t [<!ENTITY % p SYSTEM "{dtd}"> %p;]><testsuite name="s"><testcase classname="c" name="t">'
        "<system-out>&xxe;</system-out></testcase></testsuite>",
        # XInclude is never processed.
        '<testsuite name="s" xmlns:xi="http://www.w3.org/2001/XInclude"><testcase classname="c" name="t">'
        '<system-out><xi:include href="{url}" parse="text"/></system-out></testcase></testsuite>',
    ],
)
def test_no_local_file_is_ever_read(tmp_path: Path, template: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    dtd = tmp_path / "evil.dtd"
    dtd.write_text(f'<!ENTITY xxe SYSTEM "{secret.as_uri()}">')
    document = '<?xml version="1.0"?>' + template.format(url=secret.as_uri(), dtd=dtd.as_uri())
    cases, error = _parse_or_error(document)
    if error is not None:
        assert SECRET not in str(error)
        assert str(tmp_path) not in str(error)  # the message names the input, never the entity's target
        assert str(error).startswith("results.xml")
    else:
        assert cases is not None
        assert len(cases) == 1
        assert SECRET not in _texts(cases)


def test_an_entity_pointing_at_the_network_is_not_fetched() -> None:
    started = time.monotonic()
    cases, error = _parse_or_error(
        '<!DOCTYPE t [<!ENTITY xxe SYSTEM "http://198.51.100.7/steal">]>'
        '<testsuite name="s"><testcase classname="c" name="t"><failure>&xxe;</failure></testcase></testsuite>'
    )
    assert time.monotonic() - started < 2  # no connection attempt to an unroutable address
    assert error is None and cases is not None
    assert cases[0].status is Status.FAILED
    assert cases[0].trace is None  # the reference is left as it is: no text


@pytest.mark.parametrize("huge_limits", [False, True])
def test_a_billion_laughs_document_is_refused_quickly(huge_limits: bool) -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{level} "{("&lol" + (str(level - 1) if level > 1 else "") + ";") * 10}">'
        for level in range(1, 10)
    )
    document = (
        f"<!DOCTYPE lolz [{entities}]><testsuite name='s'><testcase classname='c' name='t'>"
        "<failure>&lol9;</failure></testcase></testsuite>"
    )
    limits = ParseLimits(max_field_chars=50_000_000) if huge_limits else ParseLimits()
    started = time.monotonic()
    with pytest.raises(ResultFileError, match="entity expansion refused") as caught:
        parse_bytes(document, limits=limits)
    assert time.monotonic() - started < 2
    assert caught.value.line == 1


def _nested(depth: int) -> str:
    return "<x>" * depth + "</x>" * depth


@pytest.mark.parametrize(
    "document",
    [
        # Inside a testcase, between testcases, after the last suite, and as deeply nested suites.
        '<testsuites><testsuite name="s"><testcase classname="c" name="t"><system-out>{deep}</system-out>'
        "</testcase></testsuite></testsuites>",
        '<testsuites><testsuite name="s"><testcase classname="c" name="a"/>{deep}'
        '<testcase classname="c" name="b"/></testsuite></testsuites>',
        '<testsuites><testsuite name="s"><testcase classname="c" name="a"/></testsuite>{deep}</testsuites>',
        "<testsuites>"
        + '<testsuite name="n">' * 40
        + '<testcase classname="c" name="a"/>'
        + "</testsuite>" * 40
        + "</testsuites>",
        '<test-run><test-suite type="Assembly" name="A.dll"><test-case name="N.C.T" result="Passed">'
        "<output>{deep}</output></test-case></test-suite></test-run>",
        '<assemblies><assembly name="A.dll"><collection name="c"><test name="C.T" type="C" result="Pass">'
        "<output>{deep}</output></test></collection></assembly></assemblies>",
    ],
)
def test_nesting_deeper_than_the_limit_is_refused(document: str) -> None:
    with pytest.raises(ResultFileError, match="nested deeper than the limit of 32 levels") as caught:
        parse_bytes(document.replace("{deep}", _nested(50)), limits=ParseLimits(max_depth=32))
    assert caught.value.source == "results.xml"
    assert caught.value.line == 1


def test_nesting_within_the_limit_is_accepted() -> None:
    document = (
        '<testsuites><testsuite name="s"><testcase classname="c" name="t"><system-out>'
        + _nested(20)
        + "</system-out></testcase></testsuite></testsuites>"
    )
    assert [case.name for case in parse_bytes(document, limits=ParseLimits(max_depth=32)).cases] == ["t"]


@pytest.mark.parametrize(
    ("case_xml", "field"),
    [
        ('<testcase classname="c" name="t"><failure message="{long}"/></testcase>', "failure message"),
        ('<testcase classname="c" name="t"><error type="E">{long}</error></testcase>', "error text"),
        ('<testcase classname="c" name="{long}"/>', "testcase name"),
        ('<testcase classname="{long}" name="t"/>', "testcase classname"),
        (
            '<testcase classname="c" name="t">'
            '<properties><property name="test_key" value="{long}"/></properties>'
            "</testcase>",
            "property 'test_key'",
        ),
    ],
)
def test_a_field_longer_than_the_limit_is_refused_naming_file_line_and_field(
    case_xml: str, field: str
) -> None:
    document = '<testsuite name="s">\n\n' + case_xml.replace("{long}", "x" * 101) + "\n</testsuite>"
    with pytest.raises(ResultFileError) as caught:
        parse_bytes(document, limits=ParseLimits(max_field_chars=100))
    message = str(caught.value)
    assert message.startswith(f"results.xml, line 3, {field}: ")
    assert "101 characters long, more than the limit of 100" in message
    assert caught.value.details["field"] == field


def test_output_is_cut_rather_than_refused() -> None:
    document = (
        '<testsuite name="s"><testcase classname="c" name="t"><system-out>' + "y" * 500 + "</system-out>"
    )
    parsed = parse_bytes(document + "</testcase></testsuite>", limits=ParseLimits(max_field_chars=100))
    stdout = parsed.case("t").stdout
    assert stdout is not None and stdout.startswith("y" * 500)  # 500 < max_output_chars: kept whole


def test_a_nul_character_is_a_clear_error_with_its_line() -> None:
    with pytest.raises(ResultFileError, match="not well-formed XML") as caught:
        parse_bytes(b'\xef\xbb\xbf<testsuite name="s">\n<testcase classname="c" name="t\x00"/></testsuite>')
    assert caught.value.line == 2


@pytest.mark.parametrize(
    "encoded",
    [
        b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?><testsuite name="s"><testcase classname="c" '
        b'name="caf\xc3\xa9 \xf0\x92\x8d\xba"/></testsuite>',
        '<?xml version="1.0" encoding="UTF-16"?><testsuite name="s"><testcase classname="c" name="café 𒍺"/>'
        "</testsuite>".encode("utf-16"),
        '<?xml version="1.0" encoding="UTF-16BE"?><testsuite name="s"><testcase classname="c" name="café 𒍺"/>'
        "</testsuite>".encode("utf-16-be"),
        b'<?xml version="1.0" encoding="ISO-8859-1"?>'
        b'<testsuite name="s"><testcase classname="c" name="caf\xe9 '
        b'&#x1237A;"/></testsuite>',
    ],
    ids=["utf-8-bom", "utf-16-bom", "utf-16be-no-bom", "latin-1"],
)
def test_declared_encodings_and_boms(encoded: bytes) -> None:
    assert [case.name for case in parse_bytes(encoded).cases] == ["café 𒍺"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "file is empty"),
        (b" \n\t\n", "file is empty (it holds only blanks)"),
        (b"\xef\xbb\xbf", "file is empty (it holds only blanks)"),
        (b"This is not XML.\n", "not a test-result file: it starts with 'T'"),
        (b"<testsuites><testsuite", "not well-formed XML"),
        (b"<>", "not well-formed XML: StartTag"),
        (b'<suites><suite name="x"/></suites>', "root element <suites> is not a known test-result format"),
        (b'<project xmlns="http://maven.apache.org/POM/4.0.0"/>', "root element <project>"),
        (b"{not json", "not valid JSON"),
        (b'{"some": "thing"}', "the JSON is not a known test report"),
        (b"[1, 2, 3]", "the JSON is not a known test report"),
    ],
)
def test_broken_and_foreign_input_gets_a_clear_error(data: bytes, reason: str) -> None:
    with pytest.raises(ResultFileError) as caught:
        parse_bytes(data, name="odd-file.xml")
    assert isinstance(caught.value, InputError)
    assert str(caught.value).startswith("odd-file.xml")
    assert reason in caught.value.reason


def test_an_unknown_root_error_says_what_is_expected() -> None:
    with pytest.raises(ResultFileError) as caught:
        parse_bytes("<suites/>")
    assert "<testsuites> or <testsuite> (junit)" in str(caught.value)
    assert "<test-run>" in str(caught.value) and "<TestRun>" in str(caught.value)


def test_a_truncated_file_fails_after_yielding_what_it_had_naming_the_line() -> None:
    document = (
        '<testsuite name="s">\n<testcase classname="c" name="a"/>\n<testcase classname="c" name="b">\n<fail'
    )
    from evidencehub.results.parsers.base import ParsedFile
    from tests.results.parsers.support import memory_source

    iterator = parse_source(
        memory_source(document.encode()), ParsedFile(source="t.xml"), limits=ParseLimits(), max_bytes=1 << 20
    )
    with pytest.raises(ResultFileError) as caught:
        list(iterator)
    assert caught.value.line == 4
    assert "not well-formed XML" in caught.value.reason


@pytest.mark.parametrize(
    ("document", "fmt", "reason"),
    [
        (
            '<testsuite name="s"/>',
            "nunit",
            "expected nunit (root element <test-run>, <test-results> or <test-suite>)",
        ),
        ('<testsuite name="s"/>', "mocha-json", "expected mocha-json (JSON), but the file is XML"),
        ('{"examples": []}', "junit", "expected junit (XML), but the file is JSON"),
        ('{"examples": []}', "mocha-json", "expected mocha-json, but the file is rspec-json"),
    ],
)
def test_an_explicit_format_that_does_not_match_is_refused(document: str, fmt: str, reason: str) -> None:
    with pytest.raises(ResultFileError) as caught:
        parse_bytes(document, fmt=fmt)
    assert reason in str(caught.value)


def test_an_explicit_matching_format_is_accepted_and_unknown_ones_are_refused() -> None:
    assert parse_bytes(
        '<testsuite name="s"><testcase classname="c" name="t"/></testsuite>', fmt="junit"
    ).cases
    assert set(FORMAT_CHOICES) >= {"auto", "junit", "nunit", "xunit", "trx", "ctest", "mocha-json"}
    with pytest.raises(InputError, match="format 'surefire' is not known"):
        parse_bytes("<testsuite/>", fmt="surefire")


def test_a_file_larger_than_max_bytes_is_refused_naming_it() -> None:
    cases = "".join(f'<testcase classname="c" name="t{index}"/>' for index in range(10_000))
    with pytest.raises(InputError, match="larger than the limit") as caught:
        parse_bytes(f'<testsuite name="s">{cases}</testsuite>', name="big.xml", max_bytes=100_000)
    assert caught.value.details["file"] == "big.xml"


def test_gzip_and_directories_are_read_through_the_inputs(tmp_path: Path) -> None:
    (tmp_path / "one.xml.gz").write_bytes(
        gzip.compress(b'<testsuite name="s"><testcase classname="c" name="zipped"/></testsuite>')
    )
    (tmp_path / "two.json").write_text('{"examples": [{"full_description": "works", "status": "passed"}]}')
    found: list[tuple[str | None, str]] = []
    for source in expand_inputs([str(tmp_path)]):
        parsed = ParsedFile(source=source.name)
        cases = list(parse_source(source, parsed, limits=ParseLimits(), max_bytes=1 << 20))
        found.extend((parsed.format, case.name) for case in cases)
    assert sorted(found) == [("junit", "zipped"), ("rspec-json", "works")]
