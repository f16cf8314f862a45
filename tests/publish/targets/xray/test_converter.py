"""Results → Xray JSON: test mapping by key properties or Generic definitions, statuses, merging, evidence."""

from __future__ import annotations

import base64
import datetime as dt
import json

from hypothesis import given
from hypothesis import strategies as st

from evidencehub.publish.targets.xray.converter import ConvertOptions, convert, xray_keys
from evidencehub.results.schemas import ResultExport
from evidencehub.results.service import ResultExtras

STARTED = dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.UTC)


def result(
    number: int, name: str, status: str = "passed", classname: str | None = "shop.T", **values: object
) -> ResultExport:
    fields: dict[str, object] = {
        "id": number, "run_id": 1, "project": "shop", "build": "7", "run_environment": None,
        "run_started_at": STARTED, "module": None, "classname": classname, "name": name, "status": status,
        "duration_ms": 1500.0, "started_at": None, "failure_type": None, "message": None, "trace": None,
    }  # fmt: skip
    fields.update(values)
    return ResultExport(**fields)  # type: ignore[arg-type]


def options(cloud: bool = False, **values: object) -> ConvertOptions:
    merged: dict[str, object] = {"project_key": "SHOP", "cloud": cloud, "test_execution": "SHOP-1"}
    merged.update(values)
    return ConvertOptions(**merged)  # type: ignore[arg-type]


def test_keys_from_properties_win_over_names_and_fan_out() -> None:
    rows = [result(1, "test_a"), result(2, "test_b", "failed", message="boom")]
    extras = {2: ResultExtras({"test_key": "SHOP-5", "test_id": "SHOP-6, SHOP-7"}, None, None)}
    conversion = convert(rows, extras, options())
    document = json.loads(conversion.content)
    assert document["testExecutionKey"] == "SHOP-1"
    tests = document["tests"]
    assert tests[0]["testInfo"] == {
        "projectKey": "SHOP", "summary": "test_a", "type": "Generic", "definition": "shop.T.test_a",
    }  # fmt: skip
    assert [(test.get("testKey"), test["status"]) for test in tests[1:]] == [
        ("SHOP-6", "FAIL"),
        ("SHOP-7", "FAIL"),
    ]
    assert (
        tests[0]["start"] == "2026-11-01T10:00:00+00:00" and tests[0]["finish"] == "2026-11-01T10:00:01+00:00"
    )


def test_cloud_words_and_evidence_field() -> None:
    rows = [
        result(1, "test_a", "error", trace="Traceback", failure_type="KeyError", message="x"),
        result(2, "test_b", "skipped"),
    ]
    document = convert(rows, {1: ResultExtras({}, "printed", None)}, options(cloud=True)).document
    first, second = document["tests"]
    assert (first["status"], second["status"]) == ("FAILED", "TODO")
    assert first["comment"] == "KeyError: x"
    assert [item["filename"] for item in first["evidence"]] == ["trace.txt", "stdout.txt"]
    assert base64.b64decode(first["evidence"][1]["data"]) == b"printed"
    assert "evidences" not in first


def test_two_results_of_one_test_merge_to_the_worst() -> None:
    rows = [
        result(1, "test_a", "failed", message="first"),
        result(2, "test_a", "passed"),
        result(3, "test_a", "failed", message="third"),
    ]
    (test,) = convert(rows, {}, options()).document["tests"]
    assert test["status"] == "FAIL"
    assert test["comment"] == "first\n\nthird"


def test_a_property_that_is_not_a_key_warns_and_maps_by_name() -> None:
    conversion = convert(
        [result(1, "test_a")], {1: ResultExtras({"test_id": "12345"}, None, None)}, options()
    )
    assert "testInfo" in conversion.document["tests"][0]
    assert any("not a list of Xray test keys" in warning for warning in conversion.warnings)


_key = st.from_regex(r"[A-Z][A-Z0-9_]{0,5}-[1-9][0-9]{0,5}", fullmatch=True)


@given(keys=st.lists(_key, min_size=1, max_size=5), separator=st.sampled_from([",", ", ", " ", ";", " ,\t"]))
def test_any_list_of_keys_is_read_in_order_without_repeats(keys: list[str], separator: str) -> None:
    found, warning = xray_keys({"test_key": separator.join(keys)})
    assert warning is None
    assert found == list(dict.fromkeys(keys))


@given(value=st.text(max_size=30))
def test_any_property_value_gives_keys_or_a_warning(value: str) -> None:
    found, warning = xray_keys({"xray": value})
    assert not (found and warning)
    if value.strip():
        assert found or warning
