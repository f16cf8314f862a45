"""Small JUnit documents written by the tests."""

from __future__ import annotations

from collections.abc import Iterable
from xml.sax.saxutils import quoteattr

CaseSpec = tuple[str, str, str]  # classname, name, status (passed|failed|error|skipped)


def junit_xml(
    cases: Iterable[CaseSpec], *, suite: str = "suite", timestamp: str = "2026-11-01T10:00:00"
) -> str:
    body = []
    for classname, name, status in cases:
        inner = {
            "passed": "",
            "failed": (
                '<failure message="expected 1 got 2" type="AssertionError">'
                "trace line 1\ntrace line 2</failure>"
            ),
            "error": '<error message="boom" type="RuntimeError">Traceback</error>',
            "skipped": '<skipped message="not today"/>',
        }[status]
        attributes = f'classname={quoteattr(classname)} name={quoteattr(name)} time="0.25"'
        body.append(f"<testcase {attributes}>{inner}</testcase>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuites><testsuite name={quoteattr(suite)} timestamp="{timestamp}">'
        + "".join(body)
        + "</testsuite></testsuites>\n"
    )
