"""Stored results → Octane test-results XML (one payload per slice), validated against the XSD.

Mapping (SPEC §1, §6; the choices of the official collection tool where tools differ):

* identity: ``module`` from ``octane.module`` or the test's module; the JUnit
  ``classname`` is split at its last dot into ``package`` and ``class``;
  ``name`` is the test name (``[noName]`` when empty, as the Jenkins plugin does);
* ``duration`` in milliseconds, ``started`` in epoch milliseconds (the result's
  start, else the run's), both rounded;
* status: passed → Passed, failed and error → Failed, skipped → Skipped;
  failures carry ``<error type message>stack trace</error>``;
* globally: ``build`` (server_id, job_id, build_id, job_name, build_name),
  the release (``release_ref``, a release name, or ``_default_``), backlog
  items (only with ``octane.backlog_in_payload``), product areas, test fields
  and environment taxonomies.

Octane rejects a whole payload when one value breaks the XSD (an over-long name
once rejected entire injections: Jenkins plugin PR #256), so values over 255
characters are truncated and reported, characters XML cannot carry are
replaced, and every payload is validated before it may be sent. The output is
deterministic: the same results and parameters give the same bytes, which is
what lets Octane's payload de-duplication make re-sends harmless.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from lxml import etree
from pydantic import BaseModel, Field

from evidencehub.errors import InputError
from evidencehub.publish.targets.octane import xsd
from evidencehub.results.schemas import ResultExport

MAX_VALUE = 255
NO_NAME = "[noName]"
DEFAULT_RELEASE = "_default_"
TEST_FIELD_TYPES = ("Test_Level", "Test_Type", "Testing_Tool_Type", "Framework")
STATUS = {"passed": "Passed", "failed": "Failed", "error": "Failed", "skipped": "Skipped"}
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TRUNCATED_TRACE = "\n… [evidencehub: stack trace cut off at {limit} characters]"
_SHOWN_NAMES = 10


class OctanePayloadParams(BaseModel):
    """All but the results that shapes a payload; frozen in the job so a resume sends the same bytes."""

    server_id: str
    job_id: str
    job_name: str
    build_id: str
    build_name: str
    release_name: str | None = DEFAULT_RELEASE
    release_id: int | None = None
    module: str | None = None
    backlog_ids: list[int] = Field(default_factory=list)
    product_area_ids: list[int] = Field(default_factory=list)
    test_fields: dict[str, str] = Field(default_factory=dict)
    environment: dict[str, str] = Field(default_factory=dict)
    environment_taxonomy: str = "Environment"
    max_error_chars: int = 64 * 1024


class SliceInvalidError(InputError):
    """A payload does not conform to the XSD; it is never sent."""


@dataclass(frozen=True)
class TestIdentity:
    """How Octane identifies a test: component (module), package, class and name."""

    __test__ = False  # not a pytest class

    module: str
    package: str
    class_name: str
    name: str


@dataclass
class Conversion:
    payload: bytes
    tests: int
    truncated: list[str] = field(default_factory=list)  # "field of test" descriptions

    @property
    def warnings(self) -> list[str]:
        if not self.truncated:
            return []
        shown = "; ".join(self.truncated[:_SHOWN_NAMES])
        more = len(self.truncated) - _SHOWN_NAMES
        return [
            f"{len(self.truncated)} value(s) longer than {MAX_VALUE} characters were truncated: {shown}"
            + (f"; and {more} more" if more > 0 else "")
        ]


def clean(text: str) -> str:
    """``text`` with characters XML 1.0 cannot carry replaced by U+FFFD."""
    return _XML_ILLEGAL.sub("\ufffd", text)


class _Truncations:
    def __init__(self) -> None:
        self.notes: list[str] = []

    def value(self, text: str, what: str, owner: str) -> str:
        text = clean(text)
        if len(text) <= MAX_VALUE:
            return text
        self.notes.append(f"{what} of {owner[:120]}")
        return text[:MAX_VALUE]


def split_classname(classname: str | None) -> tuple[str, str]:
    """``com.acme.FooTest`` → (``com.acme``, ``FooTest``); no dot → ("", classname)."""
    if not classname:
        return "", ""
    package, _dot, name = classname.rpartition(".")
    return package, name


def identity(result: ResultExport, params: OctanePayloadParams) -> TestIdentity:
    """The identity Octane derives from the run element this result becomes (after truncation)."""
    package, class_name = split_classname(result.classname)
    module = params.module if params.module is not None else (result.module or "")
    return TestIdentity(
        module=clean(module)[:MAX_VALUE],
        package=clean(package)[:MAX_VALUE],
        class_name=clean(class_name)[:MAX_VALUE],
        name=clean(result.name or NO_NAME)[:MAX_VALUE] or NO_NAME,
    )


def _epoch_ms(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return str(round(value.timestamp() * 1000))


def _owner(result: ResultExport) -> str:
    return f"{result.classname}::{result.name}" if result.classname else result.name


def _global_elements(root: etree._Element, params: OctanePayloadParams, notes: _Truncations) -> None:
    build = etree.SubElement(root, "build")
    for attribute, value in (
        ("server_id", params.server_id),
        ("job_id", params.job_id),
        ("job_name", params.job_name),
        ("build_id", params.build_id),
        ("build_name", params.build_name),
    ):
        build.set(attribute, notes.value(value, f"build {attribute}", "the build"))
    if params.release_id is not None:
        etree.SubElement(root, "release_ref", id=str(params.release_id))
    elif params.release_name:
        etree.SubElement(
            root, "release", name=notes.value(params.release_name, "release name", "the release")
        )
    if params.backlog_ids:
        backlog = etree.SubElement(root, "backlog_items")
        for backlog_id in params.backlog_ids:
            etree.SubElement(backlog, "backlog_item_ref", id=str(backlog_id))
    if params.product_area_ids:
        areas = etree.SubElement(root, "product_areas")
        for area_id in params.product_area_ids:
            etree.SubElement(areas, "product_area_ref", id=str(area_id))
    if params.test_fields:
        fields = etree.SubElement(root, "test_fields")
        for field_type in TEST_FIELD_TYPES:
            if field_type in params.test_fields:
                etree.SubElement(
                    fields, "test_field", type=field_type, value=clean(params.test_fields[field_type])
                )
        for field_type in sorted(set(params.test_fields) - set(TEST_FIELD_TYPES)):
            # Unknown types are kept so the XSD check names them instead of silently dropping them.
            etree.SubElement(
                fields, "test_field", type=field_type, value=clean(params.test_fields[field_type])
            )


def _environment(parent: etree._Element, taxonomies: dict[str, str], notes: _Truncations) -> None:
    if not taxonomies:
        return
    element = etree.SubElement(parent, "environment")
    for taxonomy_type in sorted(taxonomies):
        etree.SubElement(
            element,
            "taxonomy",
            type=notes.value(taxonomy_type, "taxonomy type", "the environment"),
            value=notes.value(taxonomies[taxonomy_type], "taxonomy value", "the environment"),
        )


def _taxonomies(params: OctanePayloadParams, environment: str | None) -> dict[str, str]:
    taxonomies = dict(params.environment)
    if environment:
        taxonomies[params.environment_taxonomy] = environment
    return taxonomies


def _run_element(
    runs: etree._Element,
    result: ResultExport,
    params: OctanePayloadParams,
    notes: _Truncations,
    run_environment: dict[str, str] | None,
) -> None:
    owner = _owner(result)
    package, class_name = split_classname(result.classname)
    module = params.module if params.module is not None else result.module
    run = etree.SubElement(runs, "test_run")
    if module is not None:
        run.set("module", notes.value(module, "module", owner))
    if package:
        run.set("package", notes.value(package, "package", owner))
    if class_name:
        run.set("class", notes.value(class_name, "class", owner))
    run.set("name", notes.value(result.name or NO_NAME, "name", owner) or NO_NAME)
    run.set("status", STATUS[result.status])
    run.set("duration", str(max(0, round(result.duration_ms or 0))))
    started = _epoch_ms(result.started_at or result.run_started_at)
    if started is not None:
        run.set("started", started)
    if run_environment is not None:
        _environment(run, run_environment, notes)
    if result.status in ("failed", "error"):
        error = etree.SubElement(run, "error")
        if result.failure_type:
            error.set("type", clean(result.failure_type))
        if result.message:
            error.set("message", clean(result.message))
        trace = result.trace or result.message or ""
        if len(trace) > params.max_error_chars:
            trace = trace[: params.max_error_chars] + _TRUNCATED_TRACE.format(limit=params.max_error_chars)
        if trace:
            error.text = clean(trace)


def convert(results: Sequence[ResultExport], params: OctanePayloadParams) -> Conversion:
    """One payload for ``results`` (in their order); raises SliceInvalidError when the XSD refuses it."""
    notes = _Truncations()
    root = etree.Element("test_result")
    _global_elements(root, params, notes)
    environments = {result.run_environment for result in results}
    uniform = len(environments) <= 1
    if uniform:
        _environment(root, _taxonomies(params, next(iter(environments), None)), notes)
    runs = etree.SubElement(root, "test_runs")
    for result in results:
        per_run = None if uniform else _taxonomies(params, result.run_environment)
        _run_element(runs, result, params, notes, per_run)
    problems = xsd.schema_errors(root)
    if problems:
        raise SliceInvalidError(
            "the Octane payload does not conform to the test results XSD (it was not sent): "
            + "; ".join(problems),
            details={"problems": problems},
        )
    payload = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return Conversion(payload=payload, tests=len(results), truncated=notes.notes)
