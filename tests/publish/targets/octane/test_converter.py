"""Stored results → Octane XML: the official tools' conversions, the XSD, truncation, determinism."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.publish.targets.octane import xsd
from evidencehub.publish.targets.octane.converter import (
    OctanePayloadParams,
    SliceInvalidError,
    convert,
    identity,
    split_classname,
)
from evidencehub.results import service as results
from evidencehub.results.ingest import IngestRequest, ingest
from evidencehub.results.schemas import ResultExport
from tests.support.shared import require_shared

EXAMPLES = ("reference", "octane", "examples")
CONV_PARAMS = OctanePayloadParams(
    server_id="serverId",
    job_id="myJob",
    job_name="myJob",
    build_id="123",
    build_name="123",
    release_name=None,
    module="",
    test_fields={"Test_Level": "Unit Test", "Test_Type": "Sanity", "Framework": "JUnit"},
)


def result(**changes: object) -> ResultExport:
    values: dict[str, object] = {
        "id": 1,
        "run_id": 1,
        "project": "prism",
        "build": "1042",
        "run_environment": None,
        "run_started_at": dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.UTC),
        "module": None,
        "classname": "com.acme.LoginTest",
        "name": "test_login",
        "status": "passed",
        "duration_ms": 1234.6,
        "started_at": None,
        "failure_type": None,
        "message": None,
        "trace": None,
    }
    values.update(changes)
    return ResultExport(**values)  # type: ignore[arg-type]


def params(**changes: object) -> OctanePayloadParams:
    return CONV_PARAMS.model_copy(update={"release_name": "_default_", "module": None, **changes})


def runs_of(payload: bytes) -> list[etree._Element]:
    return list(xsd.parse(payload).iter("test_run"))


def test_the_official_junit_conversion_example_is_reproduced(database: Database, settings: Settings) -> None:
    """CONV's failedAndSkippedTestCases: same build, test fields, runs, statuses and errors.

    Two documented differences: CONV keeps the whole classname in ``class`` where
    we split it into package and class (as the collection tool and the Jenkins
    plugin do), and CONV writes durations in rounded seconds where we send
    milliseconds (SPEC §1.2).
    """
    junit = require_shared(*EXAMPLES, "conversion-junit_failedAndSkippedTestCases.INPUT-junit.xml")
    expected = etree.parse(
        str(require_shared(*EXAMPLES, "conversion-junit_failedAndSkippedTestCasesExpected.xml"))
    )
    outcome = ingest(database, settings, IngestRequest(paths=[str(junit)], project="conv", build="123"))
    assert outcome.run is not None
    with database.session() as session:
        ids = results.result_ids(session, [outcome.run.id])
        rows = results.export_results(session, [outcome.run.id], first_id=ids[0], last_id=ids[-1])
    ours = xsd.parse(convert(rows, CONV_PARAMS).payload)

    assert dict(ours.find("build").attrib) == {
        **expected.find("build").attrib,
        "job_name": "myJob",
        "build_name": "123",
    }
    fields = lambda root: [dict(item.attrib) for item in root.iter("test_field")]  # noqa: E731
    assert fields(ours) == fields(expected.getroot())
    expected_runs = {run.get("name"): run for run in expected.iter("test_run")}
    our_runs = {run.get("name"): run for run in ours.iter("test_run")}
    assert set(our_runs) == set(expected_runs)
    for name, theirs in expected_runs.items():
        mine = our_runs[name]
        assert mine.get("status") == theirs.get("status"), name
        assert mine.get("module") == theirs.get("module") == ""
        assert f"{mine.get('package')}.{mine.get('class')}" == theirs.get("class")
        if theirs.find("error") is not None:
            assert mine.find("error").get("type") == theirs.find("error").get("type")
            assert mine.find("error").text.strip() == theirs.find("error").text.strip()
        else:
            assert mine.find("error") is None


def test_the_collection_tool_shape_splits_package_and_class() -> None:
    payload = convert(
        [result(classname="com.examples.example.SampleClass", name="testTwo", duration_ms=2)], params()
    ).payload
    run = runs_of(payload)[0]
    assert (run.get("package"), run.get("class"), run.get("name"), run.get("duration")) == (
        "com.examples.example",
        "SampleClass",
        "testTwo",
        "2",
    )
    assert run.get("started") == str(int(dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.UTC).timestamp() * 1000))


def test_statuses_errors_and_durations() -> None:
    rows = [
        result(id=1, name="a", status="passed", duration_ms=0.4),
        result(
            id=2,
            name="b",
            status="failed",
            failure_type="AssertionError",
            message="1 != 2",
            trace="Traceback…",
        ),
        result(id=3, name="c", status="error", message="boom"),
        result(id=4, name="d", status="skipped"),
    ]
    runs = runs_of(convert(rows, params()).payload)
    assert [run.get("status") for run in runs] == ["Passed", "Failed", "Failed", "Skipped"]
    assert runs[0].get("duration") == "0"
    assert dict(runs[1].find("error").attrib) == {"type": "AssertionError", "message": "1 != 2"}
    assert runs[1].find("error").text == "Traceback…"
    assert runs[2].find("error").text == "boom"  # no trace: the message stands in for it
    assert runs[3].find("error") is None


def test_release_product_areas_and_environment() -> None:
    by_name = xsd.parse(
        convert(
            [result()], params(release_name="2026.11", product_area_ids=[1004], backlog_ids=[2001])
        ).payload
    )
    assert by_name.find("release").get("name") == "2026.11"
    assert by_name.find("product_areas/product_area_ref").get("id") == "1004"
    assert by_name.find("backlog_items/backlog_item_ref").get("id") == "2001"
    by_id = xsd.parse(convert([result()], params(release_name=None, release_id=1002)).payload)
    assert by_id.find("release_ref").get("id") == "1002"
    default = xsd.parse(convert([result()], params()).payload)
    assert default.find("release").get("name") == "_default_"
    uniform = xsd.parse(
        convert([result(run_environment="staging")], params(environment={"OS": "Linux"})).payload
    )
    assert {item.get("type"): item.get("value") for item in uniform.iter("taxonomy")} == {
        "OS": "Linux",
        "Environment": "staging",
    }
    mixed = xsd.parse(
        convert(
            [result(id=1, run_environment="staging"), result(id=2, name="x", run_environment="prod")],
            params(),
        ).payload
    )
    assert mixed.find("environment") is None  # differs per run: written on each run instead
    assert [run.find("environment/taxonomy").get("value") for run in mixed.iter("test_run")] == [
        "staging",
        "prod",
    ]


def test_values_over_255_characters_are_truncated_and_reported_by_test() -> None:
    long_name = "test_" + "x" * 300
    conversion = convert(
        [result(name=long_name), result(id=2, classname="p." + "C" * 400, name="ok")], params()
    )
    runs = runs_of(conversion.payload)
    assert len(runs[0].get("name")) == 255
    assert len(runs[1].get("class")) == 255
    assert len(conversion.warnings) == 1
    assert "2 value(s) longer than 255 characters were truncated" in conversion.warnings[0]
    assert "name of com.acme.LoginTest::test_xxx" in conversion.warnings[0]
    assert identity(result(name=long_name), params()).name == runs[0].get("name")


def test_an_xsd_invalid_payload_raises_and_says_why() -> None:
    with pytest.raises(SliceInvalidError, match="XSD") as raised:
        convert([result()], params(test_fields={"Framework": ""}))
    assert raised.value.details["problems"]


def test_the_same_results_always_give_the_same_bytes() -> None:
    rows = [
        result(id=index, name=f"t{index}", status="failed", message="m", trace="t") for index in range(50)
    ]
    assert convert(rows, params()).payload == convert(list(rows), params()).payload


@pytest.mark.parametrize(
    ("classname", "expected"),
    [
        ("com.acme.FooTest", ("com.acme", "FooTest")),
        ("FooTest", ("", "FooTest")),
        (None, ("", "")),
        ("a.", ("a", "")),
    ],
)
def test_classname_split(classname: str | None, expected: tuple[str, str]) -> None:
    assert split_classname(classname) == expected


text = st.text(st.characters(codec="utf-8"), max_size=300)


@settings(max_examples=60, deadline=None)
@given(
    name=text,
    classname=st.none() | text,
    module=st.none() | text,
    status=st.sampled_from(["passed", "failed", "error", "skipped"]),
    message=st.none() | text,
    trace=st.none() | text,
    duration=st.none() | st.floats(min_value=-5, max_value=1e12),
)
def test_any_stored_result_becomes_a_valid_payload(
    name: str,
    classname: str | None,
    module: str | None,
    status: str,
    message: str | None,
    trace: str | None,
    duration: float | None,
) -> None:
    """Names of any length and any character (controls, surrogate-free Unicode) never make a slice invalid."""
    row = result(
        name=name,
        classname=classname,
        module=module,
        status=status,
        message=message,
        trace=trace,
        duration_ms=duration,
    )
    conversion = convert([row], params())
    assert xsd.schema_errors(xsd.parse(conversion.payload)) == []
    assert runs_of(conversion.payload)[0].get("name") == identity(row, params()).name


def test_bundled_schema_is_the_reference_copy() -> None:
    reference = Path(require_shared("reference", "octane", "octaneResultSchema.xsd")).read_bytes()
    assert xsd.schema_bytes() == reference
