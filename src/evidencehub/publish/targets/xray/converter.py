"""Stored results → an Xray JSON import document (``/import/execution``).

Mapping (Xray's own JUnit rules, anchors §5.2):

* A result names Xray tests through its ``test_id`` / ``test_key`` properties
  (``test_id`` wins) or the ``xray`` property a ``@pytest.mark.xray("PZ-1")``
  marker records; a value may list several keys (``"PZ-1, PZ-2"``) and the
  result then counts for each. Otherwise the test is a *Generic* test whose
  definition is ``classname.name`` (``name`` alone without a class), which
  Xray finds again or creates in the project — never twice.
* Statuses: passed → PASS/PASSED, failed and error → FAIL/FAILED, skipped →
  TODO (Server/DC words, then Cloud words).
* Two results for one test in a slice are merged: the worst status wins and
  the comments are joined (as pytest-jira-xray's ``--allow-duplicate-ids``).
* Failed tests carry their trace and stdout as evidence (base64 text files),
  each cut to ``max_evidence_bytes``; if the document is still above
  ``max_request_bytes`` the largest evidence is dropped, with a warning.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from evidencehub.errors import InputError
from evidencehub.publish.targets.xray.params import ISSUE_KEY
from evidencehub.results.schemas import ResultExport
from evidencehub.results.service import ResultExtras

KEY_PROPERTIES = ("test_id", "test_key", "xray", "xray_key")
SERVER_STATUS = {"passed": "PASS", "failed": "FAIL", "error": "FAIL", "skipped": "TODO"}
CLOUD_STATUS = {"passed": "PASSED", "failed": "FAILED", "error": "FAILED", "skipped": "TODO"}
_SEVERITY = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
MAX_COMMENT_CHARS = 8000
_SPLIT = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class ConvertOptions:
    project_key: str
    cloud: bool
    test_execution: str | None
    attach_evidence: bool = True
    max_evidence_bytes: int = 256 * 1024
    max_request_bytes: int = 20 * 1024 * 1024


@dataclass
class Conversion:
    document: dict[str, Any]
    content: bytes
    tests: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Entry:
    status: str  # our word, the worst seen
    test: dict[str, Any]
    comments: list[str]


def xray_keys(properties: Mapping[str, Any]) -> tuple[list[str], str | None]:
    """The Xray test keys a result names, and a warning for a property that holds no key."""
    for name in KEY_PROPERTIES:
        value = properties.get(name)
        if value is None or not str(value).strip():
            continue
        words = [word for word in _SPLIT.split(str(value).strip()) if word]
        keys = [word for word in words if ISSUE_KEY.match(word)]
        if keys and len(keys) == len(words):
            return list(dict.fromkeys(keys)), None
        return [], f"property {name}={str(value)[:80]!r} is not a list of Xray test keys; mapped by name"
    return [], None


def definition(result: ResultExport) -> str:
    return f"{result.classname}.{result.name}" if result.classname else result.name


def _stamp(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.isoformat(timespec="seconds")


def _times(result: ResultExport) -> dict[str, str]:
    start = result.started_at or result.run_started_at
    if start is None:
        return {}
    finish = start + dt.timedelta(milliseconds=result.duration_ms or 0)
    return {"start": _stamp(start), "finish": _stamp(finish)}


def _comment(result: ResultExport) -> str | None:
    if result.status in ("failed", "error"):
        parts = [part for part in (result.failure_type, result.message) if part]
        text = ": ".join(parts) if parts else f"test {result.status}"
    elif result.status == "skipped" and result.message:
        text = f"skipped: {result.message}"
    else:
        return None
    return text[:MAX_COMMENT_CHARS]


def _evidence(name: str, text: str, limit: int) -> dict[str, str] | None:
    data = text.encode("utf-8")
    if not data or limit <= 0:
        return None
    if len(data) > limit:
        note = f"\n[cut by evidencehub: {len(data)} bytes, the first {limit} kept]\n".encode()
        data = data[: max(0, limit - len(note))] + note
    return {"data": base64.b64encode(data).decode("ascii"), "filename": name, "contentType": "text/plain"}


def _references(
    result: ResultExport, extra: ResultExtras | None, options: ConvertOptions, warnings: list[str]
) -> list[tuple[str, dict[str, Any]]]:
    """(identity, testKey or testInfo) of each Xray test the result counts for."""
    keys, warning = xray_keys(extra.properties if extra else {})
    if warning:
        warnings.append(f"{definition(result)}: {warning}")
    if keys:
        return [(f"key:{key}", {"testKey": key}) for key in keys]
    name = definition(result)
    info = {
        "projectKey": options.project_key,
        "summary": result.name[:255],
        "type": "Generic",
        "definition": name,
    }
    return [(f"def:{name}", {"testInfo": info})]


def _result_evidence(result: ResultExport, extra: ResultExtras | None, options: ConvertOptions) -> list[Any]:
    if not options.attach_evidence or result.status not in ("failed", "error"):
        return []
    files = (("trace.txt", result.trace), ("stdout.txt", extra.stdout if extra else None))
    made = (_evidence(filename, text or "", options.max_evidence_bytes) for filename, text in files)
    return [item for item in made if item is not None]


def convert(
    results: Sequence[ResultExport], extras: Mapping[int, ResultExtras], options: ConvertOptions
) -> Conversion:
    """The import document of one slice (``testExecutionKey`` + ``tests``)."""
    statuses = CLOUD_STATUS if options.cloud else SERVER_STATUS
    evidence_field = "evidence" if options.cloud else "evidences"
    entries: dict[str, _Entry] = {}
    warnings: list[str] = []
    for result in results:
        extra = extras.get(result.id)
        comment = _comment(result)
        evidence = _result_evidence(result, extra, options)
        for identity, reference in _references(result, extra, options, warnings):
            entry = entries.get(identity)
            if entry is None:
                test = {**reference, **_times(result), "status": ""}
                if evidence:
                    test[evidence_field] = list(evidence)
                entries[identity] = _Entry(result.status, test, [comment] if comment else [])
                continue
            if _SEVERITY.get(result.status, 0) > _SEVERITY.get(entry.status, 0):
                entry.status = result.status
            if comment:
                entry.comments.append(comment)
            if evidence:
                entry.test.setdefault(evidence_field, []).extend(evidence)
    tests = []
    for entry in entries.values():
        entry.test["status"] = statuses.get(entry.status, statuses["failed"])
        if entry.comments:
            entry.test["comment"] = "\n\n".join(entry.comments)[:MAX_COMMENT_CHARS]
        tests.append(entry.test)
    document: dict[str, Any] = {}
    if options.test_execution:
        document["testExecutionKey"] = options.test_execution
    document["tests"] = tests
    content = _fit(document, evidence_field, options.max_request_bytes, warnings)
    return Conversion(document, content, len(tests), warnings)


def _encode(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _fit(document: dict[str, Any], evidence_field: str, limit: int, warnings: list[str]) -> bytes:
    """The encoded document, with the largest evidence dropped until it fits ``limit`` bytes."""
    content = _encode(document)
    if len(content) <= limit:
        return content
    items = [
        (len(item["data"]), test, item) for test in document["tests"] for item in test.get(evidence_field, [])
    ]
    items.sort(key=lambda entry: entry[0], reverse=True)
    size, dropped = len(content), 0
    for length, test, item in items:
        if size <= limit:
            break
        test[evidence_field].remove(item)
        if not test[evidence_field]:
            del test[evidence_field]
        size -= length + 60  # the item's base64 plus its keys, roughly
        dropped += 1
    content = _encode(document)
    if dropped:
        warnings.append(
            f"{dropped} evidence file(s) left out so the import stays within xray.max_request_kb "
            f"({limit // 1024} KiB)"
        )
    if len(content) > limit:
        raise InputError(
            f"an import of {len(document['tests'])} tests is {len(content) // 1024} KiB even without "
            f"evidence, above xray.max_request_kb ({limit // 1024} KiB): lower xray.max_tests_per_import",
            details={"setting": "xray.max_tests_per_import"},
        )
    return content


def execution_info(
    *,
    project_key: str,
    summary: str,
    description: str | None,
    test_plan: str | None,
    environments: Sequence[str],
    revision: str | None,
    fix_version: str | None,
    user: str | None,
    cloud: bool,
    started: dt.datetime | None = None,
) -> dict[str, Any]:
    """The ``info`` object that creates a Test Execution."""
    info: dict[str, Any] = {"project": project_key, "summary": summary[:255]}
    optional = {
        "description": description,
        "testPlanKey": test_plan,
        "revision": revision,
        "version": fix_version,
        "user": None if cloud else user,
        "startDate": _stamp(started) if started else None,
    }
    info.update({key: value for key, value in optional.items() if value})
    if environments:
        info["testEnvironments"] = list(environments)
    return info
