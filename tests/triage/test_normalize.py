"""Normalization and fingerprints: volatile tokens masked, meaningful parts kept."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from evidencehub.triage import normalize as normalize_module
from evidencehub.triage.fingerprint import cluster_key, fingerprint
from evidencehub.triage.normalize import exception_type, mask, normalize

PYTHON_TRACE = """Traceback (most recent call last):
  File "/srv/ci/venv/lib/python3.12/site-packages/_pytest/python.py", line 159, in pytest_pyfunc_call
    result = testfunction(**testargs)
  File "/srv/ci/prism/tests/api/test_jobs.py", line 211, in test_cancel
    client.cancel(batch)
  File "/srv/ci/prism/prism/client.py", line 88, in cancel
    raise JobError(f"cancel failed for {batch}")
prism.errors.JobError: cancel failed for 41c2a9e0-77aa-4c11-9a0e-2b1f0c3d4e5f
"""

JAVA_TRACE = """java.net.ConnectException: Connection refused
\tat java.base/sun.nio.ch.Net.connect0(Native Method)
\tat com.acme.db.Client.open(Client.java:88)
\tat com.acme.db.ClientTest.testOpen(ClientTest.java:12)
\tat org.junit.runners.ParentRunner.run(ParentRunner.java:363)
\tat jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)
"""


def test_volatile_tokens_are_masked() -> None:
    text = (
        "id 3f2a1b4c-1111-2222-3333-444455556666 at 2026-11-01T10:00:01.123Z from 10.0.3.4:5432 "
        "object at 0x7f3a2b1c, file /tmp/pytest-of-ci/pytest-12/out.csv, sha 9f86d081884c7d65, took 1.5 s"
    )
    masked = mask(text)
    for volatile in ("3f2a1b4c", "2026-11-01", "10.0.3.4", "5432", "0x7f3a", "/tmp/pytest", "9f86d08", "1.5"):
        assert volatile not in masked
    for placeholder in ("<UUID>", "<TS>", "<IP>", "<ADDR>", "<TMP>", "<HEX>", "<N>"):
        assert placeholder in masked


def test_http_status_codes_are_kept_apart() -> None:
    too_many = normalize(failure_type=None, message="HTTP 429 from gateway", trace=None)
    unavailable = normalize(failure_type=None, message="HTTP 503 from gateway", trace=None)
    assert too_many.message != unavailable.message


def test_python_trace_keeps_frames_without_line_numbers_or_framework() -> None:
    signature = normalize(failure_type=None, message=None, trace=PYTHON_TRACE)
    assert signature.exception == "JobError"
    assert "line" not in signature.trace and "_pytest" not in signature.trace
    assert "/srv/ci/prism/tests/api/test_jobs.py:test_cancel" in signature.trace
    assert signature.message == "cancel failed for <UUID>"
    assert str(signature.own_frame) == "/srv/ci/prism/prism/client.py:cancel"
    assert not signature.raised_in_test_code


def test_java_trace_innermost_frame_and_test_code() -> None:
    signature = normalize(
        failure_type="java.net.ConnectException", message="Connection refused", trace=JAVA_TRACE
    )
    assert signature.exception == "ConnectException"
    assert "ParentRunner" not in signature.trace and "reflect" not in signature.trace
    assert str(signature.own_frame) == "com.acme.db.Client:open"
    in_test = normalize(
        failure_type="java.lang.NullPointerException",
        message=None,
        trace="java.lang.NullPointerException\n\tat com.acme.db.ClientTest.testOpen(ClientTest.java:12)",
    )
    assert in_test.raised_in_test_code


def test_exception_type_is_found_in_the_message_when_not_reported() -> None:
    assert exception_type(None, "requests.exceptions.ReadTimeout: read timed out", "") == "ReadTimeout"
    assert exception_type("  ", "", "E   AssertionError: totals differ") == "AssertionError"
    assert exception_type(None, "it broke", "") == ""


def test_empty_message_takes_the_first_trace_line() -> None:
    signature = normalize(failure_type="AssertionError", message="", trace="AssertionError: sum 41 != 42\n")
    assert signature.message == "sum <N> != <N>"


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_numbers_do_not_change_the_fingerprint(first: int, second: int) -> None:
    def failure(number: int) -> str:
        return fingerprint(
            normalize(
                failure_type="TimeoutError",
                message=f"job {number} not done after {number % 97} s on worker-{number % 7}",
                trace=None,
            )
        )

    assert failure(first) == failure(second)


@given(st.uuids(), st.uuids())
def test_ids_do_not_change_the_fingerprint(first: uuid.UUID, second: uuid.UUID) -> None:
    def failure(value: uuid.UUID) -> str:
        return fingerprint(normalize(failure_type=None, message=f"batch {value} lost", trace=None))

    assert failure(first) == failure(second)


@given(st.text(max_size=3000), st.text(max_size=3000), st.one_of(st.none(), st.text(max_size=200)))
def test_normalize_accepts_any_text(message: str, trace: str, failure_type: str | None) -> None:
    signature = normalize(failure_type=failure_type, message=message, trace=trace)
    assert len(signature.document) <= 40_000
    assert len(fingerprint(signature)) == 16


def test_different_errors_have_different_fingerprints_and_keys_are_per_project() -> None:
    refused = fingerprint(normalize(failure_type="ConnectionRefusedError", message="refused", trace=None))
    reset = fingerprint(normalize(failure_type="ConnectionResetError", message="reset by peer", trace=None))
    assert refused != reset
    assert cluster_key(1, refused) != cluster_key(2, refused)
    assert cluster_key(1, refused) == cluster_key(1, refused)
    assert cluster_key(1, refused).startswith("c") and len(cluster_key(1, refused)) == 13


# Pieces of log lines where the masks and the line analysis disagree most easily: separators, hex
# letters, "0x", HTTP statuses, frames, ports, temporary paths. "#" stands for one digit.
_PIECES = (
    "#", "##", "###", "####", "0x", "x", "a", "f", "E", "e", "Z", "T", "D", " ", ":", "-", "_", ".",
    "@", "[", "]", ", ", "/tmp/", "localhost", ".svc", "HTTP ", "status ", "code ", "at ",
    'File "t_#.py", line ', ", in f", "(Foo#Test.java:", ")", "Error: ", "job-", "ab",
)  # fmt: skip
_PATTERNS = [pattern for _, pattern, _ in normalize_module._MASKS] + [
    normalize_module._HTTP_STATUS,
    normalize_module._PY_FRAME,
    normalize_module._PYTEST_FRAME,
    normalize_module._JAVA_FRAME,
    normalize_module._GENERIC_LINE_NUMBER,
    normalize_module._EXCEPTION_HEAD,
]
_lines = st.one_of(
    st.lists(st.sampled_from(_PIECES), min_size=1, max_size=24).map(
        lambda pieces: "".join(pieces).replace("#", "7")
    ),
    st.tuples(
        st.text(max_size=20), st.sampled_from(_PATTERNS).flatmap(st.from_regex), st.text(max_size=20)
    ).map("".join),
    st.text(max_size=200),
)


@st.composite
def _same_shape_lines(draw: st.DrawFn) -> tuple[str, str]:
    """A line and the line with each ASCII digit replaced by one of the same shape (as the cache maps)."""
    first = draw(_lines)
    coarse = normalize_module._shape_key(first).startswith("c")
    second: list[str] = []
    for character in first:
        same = [
            digit
            for digit in "0123456789"
            if coarse
            or digit.translate(normalize_module._SHAPE) == character.translate(normalize_module._SHAPE)
        ]
        second.append(draw(st.sampled_from(same)) if character in "0123456789" else character)
    return first, "".join(second)


@settings(suppress_health_check=[HealthCheck.too_slow])
@example(("exit code 611", "exit code 511"))
@example(("0xdeadbeef", "1xdeadbeef"))
@example(("Status 611", "Status 511"))
@given(_same_shape_lines())
def test_a_line_shares_the_analysis_of_a_line_of_the_same_shape_only_when_it_is_the_same(
    lines: tuple[str, str],
) -> None:
    for first, second in (lines, lines[::-1]):
        normalize_module._line_cache.clear()
        normalize_module._shape_cache.clear()
        normalize_module._line(first)
        assert normalize_module._line(second) == normalize_module._analyse_line(second)


def _masked_in_turn(text: str) -> str:
    expected = text
    for _, pattern, replacement in normalize_module._MASKS:
        expected = pattern.sub(replacement, expected)
    if normalize_module._DIGIT.search(text) is None:
        expected = normalize_module._TMP_PATH.sub("<TMP>", text)
    return expected


@settings(suppress_health_check=[HealthCheck.too_slow])
@example("Object@1b6d3586 at 2024-01-02T10:00:00Z from [::1]:8080 and 10.0.0.1:5432")
@given(_lines)
def test_guarded_masks_mask_as_every_mask_applied_in_turn(text: str) -> None:
    assert mask(text) == _masked_in_turn(text)


@pytest.mark.parametrize("pattern", _PATTERNS, ids=lambda pattern: pattern.pattern[:24])
# from_regex meets the hex masks' lookaheads by filtering, so many drawn strings are thrown away.
@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_guarded_masks_agree_on_text_each_pattern_matches(
    pattern: re.Pattern[str], data: st.DataObject
) -> None:
    text = data.draw(st.from_regex(pattern))
    assert mask(text) == _masked_in_turn(text)
